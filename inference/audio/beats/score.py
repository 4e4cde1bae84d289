"""The music of ``beats``: styles, keys, chords and what plays when, without a sound.

A ``Groove`` fixes what the parts of one beat share (style, tempo, swing, key, chord
progression, kick and snare patterns) and turns positions in beats into samples. The other
functions write one part's score from it: drum events, 808 notes, the melody's motif, the
lead's phrases. Everything is drawn from a ``numpy.random.Generator``; no audio is made
here (``sounds`` makes the sounds, ``parts`` puts them in time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...constants import SAMPLE_RATE  # the pipeline's rate; ``sr`` parameters override it

Seed = np.random.Generator | int | None
Event = tuple[float, str, float]  # (position in beats, drum hit name, velocity 0..1)
Note = tuple[float, float, int]  # (start in beats, length in beats, MIDI note)

BEATS_PER_BAR = 4  # quarter notes per bar: every style is in 4/4
STEPS_PER_BEAT = 4  # 16th notes per quarter note: the grid of the drum patterns
SWING_MAX = 0.6  # swing s delays each off-beat 16th by s/2 of a 16th (0.6: MPC swing ~65 %)
GHOST_VELOCITY = 0.3  # velocity of a "g" (ghost) hit in a pattern; "x" is 1

# MIDI note ranges of the pitched parts (Hz in the comments)
BASS_MIDI = (26, 39)  # 36.7-77.8 Hz: 808 fundamentals
CHORD_LOW_MIDI = 48  # 130.8 Hz: lowest chord root; close voicings reach MIDI 71 (493.9 Hz)
MELODY_MIDI = (56, 76)  # 207.7-659.3 Hz: inside a voice's range (and 200-900 Hz)
LEAD_MIDI = (52, 72)  # 164.8-523.3 Hz: a sung voice's range

STYLES = ("boombap", "trap", "lofi", "drill")
SCALES = {  # semitones above the tonic: minor keys and modes only
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
PROGRESSIONS = ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 3, 4, 0), (0, 5, 3, 4), (0, 0, 5, 5))
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class StyleSpec:
    """How a style plays. Patterns are 16th steps, looped: "x" hit, "g" ghost, "." rest."""

    bpm: tuple[float, float]  # written tempo range, BPM
    swing: tuple[float, float]  # range of swing, 0..SWING_MAX
    kicks: tuple[str, ...]  # kick patterns, one drawn per beat (the 808 follows it)
    snares: tuple[str, ...]
    clap: bool  # snare layered with a clap
    hat_steps: tuple[int, ...]  # 16ths between closed hats (3: 8th triplets), one drawn
    roll_prob: float  # chance that a beat's hats become a roll (32nds or 16th triplets)
    open_hat_prob: float  # chance per bar of an open hat on the "and" of 4
    humanise_s: float  # s: std of the drums' timing jitter
    drum_lowpass_hz: float | None  # Hz: dusty drums (lofi)
    beats_per_chord: tuple[int, ...]
    scales: tuple[str, ...]
    chord_timbres: tuple[str, ...]
    melody_timbres: tuple[str, ...]
    melody_grid: int  # 16ths per melody step
    glide_prob: float  # chance that an 808 note glides from the previous one
    bass_hold_beats: float  # longest 808 note, beats
    bass_decay_s: float  # s: 808 amplitude time constant


STYLE_SPECS = {
    "boombap": StyleSpec(
        bpm=(72.0, 100.0), swing=(0.0, 0.4), clap=False,
        kicks=("x.........x.....", "x......x..x.....", "x.x.......x..x..", "x......x.x......"),
        snares=("....x.......x...", "....x.......x..g", "....x.......x.g."),
        hat_steps=(2, 2, 1), roll_prob=0.0, open_hat_prob=0.4, humanise_s=0.004,
        drum_lowpass_hz=None, beats_per_chord=(4, 8), scales=("minor", "dorian"),
        chord_timbres=("keys", "organ", "saw"), melody_timbres=("pluck", "bell"),
        melody_grid=2, glide_prob=0.0, bass_hold_beats=1.0, bass_decay_s=0.35,
    ),
    "trap": StyleSpec(
        bpm=(120.0, 160.0), swing=(0.0, 0.1), clap=True,
        kicks=("x.....x...x.....", "x..x......x.....", "x.......x.x.....x.....x..x......"),
        snares=("........x.......", "........x..g...."),
        hat_steps=(2, 1), roll_prob=0.25, open_hat_prob=0.0, humanise_s=0.0,
        drum_lowpass_hz=None, beats_per_chord=(8,), scales=("minor", "harmonic_minor"),
        chord_timbres=("saw", "organ"), melody_timbres=("bell", "pluck"),
        melody_grid=2, glide_prob=0.35, bass_hold_beats=4.0, bass_decay_s=1.2,
    ),
    "lofi": StyleSpec(
        bpm=(68.0, 90.0), swing=(0.25, 0.6), clap=False,
        kicks=("x......x..x.....", "x.........x..x..", "x..x......x....."),
        snares=("....x.......x...", "....x.......x..g"),
        hat_steps=(2,), roll_prob=0.0, open_hat_prob=0.2, humanise_s=0.008,
        drum_lowpass_hz=3500.0, beats_per_chord=(4,), scales=("dorian", "minor"),
        chord_timbres=("keys", "saw"), melody_timbres=("pluck", "bell"),
        melody_grid=2, glide_prob=0.0, bass_hold_beats=2.0, bass_decay_s=0.6,
    ),
    "drill": StyleSpec(
        bpm=(136.0, 146.0), swing=(0.0, 0.05), clap=True,
        kicks=("x.........x.....", "x......x......x.x.........x....."),
        snares=("........x.......", "........x...........x..x........"),
        hat_steps=(2, 3), roll_prob=0.2, open_hat_prob=0.0, humanise_s=0.0,
        drum_lowpass_hz=None, beats_per_chord=(8,), scales=("phrygian", "harmonic_minor"),
        chord_timbres=("saw", "organ"), melody_timbres=("bell", "pluck"),
        melody_grid=1, glide_prob=0.6, bass_hold_beats=3.0, bass_decay_s=1.0,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Groove:
    """What the parts of one beat share: tempo, swing, key, chords and drum patterns."""

    style: str
    bpm: float  # written tempo, quarter notes per minute
    swing: float  # 0..SWING_MAX
    tonic: int  # pitch class of the key, 0 = C
    scale: str  # a key of SCALES
    chords: tuple[tuple[int, ...], ...]  # MIDI notes of each chord slot, looped
    beats_per_chord: int
    kick: str  # 16th-step pattern, looped
    snare: str  # 16th-step pattern, looped
    n_samples: int
    sr: int = SAMPLE_RATE

    @property
    def spec(self) -> StyleSpec:
        return STYLE_SPECS[self.style]

    @property
    def beat_s(self) -> float:
        """Length of a quarter note, s."""
        return 60.0 / self.bpm

    @property
    def n_beats(self) -> int:
        """Quarter notes that start before the end (the last one may be cut)."""
        return math.ceil(self.n_samples / self.sr / self.beat_s)

    @property
    def key(self) -> str:
        """The key in words, e.g. "F# harmonic_minor"."""
        return f"{PITCH_NAMES[self.tonic]} {self.scale}"

    def at(self, beats: float) -> int:
        """Sample index of a position in beats, off-beat 16ths delayed by the swing."""
        step = beats * STEPS_PER_BEAT
        if abs(step - round(step)) < 1e-6 and round(step) % 2 == 1:
            beats += self.swing / 2 / STEPS_PER_BEAT
        return round(beats * self.beat_s * self.sr)

    def chord_at(self, beats: float) -> tuple[int, ...]:
        """The chord sounding at a position in beats."""
        return self.chords[int(beats // self.beats_per_chord) % len(self.chords)]

    def scale_midi(self, degree: int, base: int = 48) -> int:
        """MIDI note of a scale degree (0 = tonic; any integer) above octave ``base``."""
        octave, index = divmod(degree, len(SCALES[self.scale]))
        return base + self.tonic + 12 * octave + SCALES[self.scale][index]


# --------------------------------------------------------------------------- drawing
def generator(rng: Seed) -> np.random.Generator:
    """``rng`` itself, or a generator seeded with it (an int or None)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def fold(midi: int, lo: int, hi: int) -> int:
    """``midi`` moved by octaves into [lo, hi] (a range of at least an octave)."""
    while midi > hi:
        midi -= 12
    while midi < lo:
        midi += 12
    return midi


def _voicing(tonic: int, scale: str, degree: int, sevenths: bool) -> tuple[int, ...]:
    """Close voicing of a stacked-thirds chord, root in MIDI CHORD_LOW_MIDI .. +11."""
    steps = SCALES[scale]

    def pc(d: int) -> int:
        return (tonic + steps[d % len(steps)]) % 12

    notes = [CHORD_LOW_MIDI + (pc(degree) - CHORD_LOW_MIDI) % 12]
    for third in (2, 4, 6) if sevenths else (2, 4):
        notes.append(notes[-1] + (pc(degree + third) - notes[-1]) % 12)
    return tuple(notes)


def make_groove(
    style: str = "trap",
    bpm: float | None = None,
    seconds: float = 8.0,
    rng: Seed = None,
    *,
    swing: float | None = None,
    bars: int | None = None,
    tonic: int | None = None,
    scale: str | None = None,
    sr: int = SAMPLE_RATE,
) -> Groove:
    """Draw what ``style`` leaves open (tempo, swing, key, progression, patterns).

    ``bars``, if given, sets the length instead of ``seconds``.
    """
    if style not in STYLE_SPECS:
        raise ValueError(f"unknown style {style!r}: expected one of {STYLES}")
    spec, gen = STYLE_SPECS[style], generator(rng)
    tempo = uniform(gen, spec.bpm) if bpm is None else float(bpm)
    feel = uniform(gen, spec.swing) if swing is None else float(swing)
    if tempo <= 0 or not 0.0 <= feel <= SWING_MAX:
        raise ValueError(f"bpm must be > 0 and swing in [0, {SWING_MAX}]: {tempo}, {feel}")
    if scale is not None and scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: expected one of {tuple(SCALES)}")
    key = int(gen.integers(12)) if tonic is None else int(tonic) % 12
    mode = pick(gen, spec.scales) if scale is None else scale
    sevenths = style in ("boombap", "lofi") or gen.random() < 0.3
    degrees = PROGRESSIONS[int(gen.integers(len(PROGRESSIONS)))]
    length = bars * BEATS_PER_BAR * 60.0 / tempo if bars is not None else seconds
    return Groove(
        style=style,
        bpm=tempo,
        swing=feel,
        tonic=key,
        scale=mode,
        chords=tuple(_voicing(key, mode, d, sevenths) for d in degrees),
        beats_per_chord=int(gen.choice(spec.beats_per_chord)),
        kick=pick(gen, spec.kicks),
        snare=pick(gen, spec.snares),
        n_samples=round(length * sr),
        sr=sr,
    )


# --------------------------------------------------------------------------- scores
def pattern_events(pattern: str, name: str, n_beats: int) -> list[Event]:
    """The hits of a looped 16th-step pattern over ``n_beats``."""
    velocity = {"x": 1.0, "g": GHOST_VELOCITY}
    return [
        (step / STEPS_PER_BEAT, name, velocity[pattern[step % len(pattern)]])
        for step in range(n_beats * STEPS_PER_BEAT)
        if pattern[step % len(pattern)] in velocity
    ]


def hat_events(spec: StyleSpec, n_beats: int, rng: np.random.Generator) -> list[Event]:
    """Closed hats every drawn number of 16ths (or in 8th triplets), accented on the beat;
    rolls (32nds, 16th triplets) in some beats; an open hat on the "and" of 4 in some bars."""
    every = int(rng.choice(spec.hat_steps))
    events: list[Event] = []
    for beat in range(n_beats):
        if rng.random() < spec.roll_prob:
            div = int(rng.choice((6, 8)))
            ramp = np.linspace(0.4, 0.9, div) if rng.random() < 0.5 else np.full(div, 0.6)
            events += [(beat + i / div, "hat", float(v)) for i, v in enumerate(ramp)]
        elif every == 3:
            events += [(beat, "hat", 0.8), (beat + 1 / 3, "hat", 0.45), (beat + 2 / 3, "hat", 0.55)]
        else:
            events += [
                (beat + step / STEPS_PER_BEAT, "hat", 0.8 if step == 0 else 0.5)
                for step in range(0, STEPS_PER_BEAT, every)
            ]
    for bar in range(0, n_beats, BEATS_PER_BAR):
        if rng.random() < spec.open_hat_prob:
            at = bar + 3.5
            events = [e for e in events if abs(e[0] - at) > 1e-6] + [(at, "open_hat", 0.6)]
    return events


def bass_notes(groove: Groove, rng: np.random.Generator) -> list[tuple[Note, bool]]:
    """One 808 note per full kick, on the chord's root; with the style's chance a note moves
    up a 4th, 5th or octave (or down, to stay in BASS_MIDI) and glides from the previous
    one (``True``). A note lasts to the next one, ``bass_hold_beats`` at most."""
    spec = groove.spec
    kicks = pattern_events(groove.kick, "kick", groove.n_beats)
    onsets = [beats for beats, _, velocity in kicks if velocity == 1.0]
    notes: list[tuple[Note, bool]] = []
    for i, start in enumerate(onsets):
        nxt = onsets[i + 1] if i + 1 < len(onsets) else start + spec.bass_hold_beats
        root = fold(groove.chord_at(start)[0], *BASS_MIDI)
        glide = bool(notes) and rng.random() < spec.glide_prob
        if glide:
            up = root + int(rng.choice((5, 7, 12)))
            root = up if up <= BASS_MIDI[1] else fold(root + int(rng.choice((5, 7))), *BASS_MIDI)
        notes.append(((start, min(nxt - start, spec.bass_hold_beats), root), glide))
    return notes


def motif(groove: Groove, rng: np.random.Generator) -> list[Note]:
    """A one- or two-bar scale motif in MELODY_MIDI on the style's grid (a random walk from
    a chord tone), repeated over the beat; notes last to the next one, a beat at most."""
    grid = groove.spec.melody_grid / STEPS_PER_BEAT  # beats
    span = BEATS_PER_BAR * int(rng.choice((1, 2)))
    starts = [i * grid for i in range(int(span / grid)) if i == 0 or rng.random() < 0.45]
    degree = 7 * int(rng.integers(1, 3)) + int(rng.choice((0, 2, 4)))
    pitches = []
    for _ in starts:
        midi = groove.scale_midi(degree)
        folded = fold(midi, *MELODY_MIDI)
        degree += 7 * (folded - midi) // 12  # walk on from where the note landed
        pitches.append(folded)
        degree += int(rng.choice((-2, -1, -1, 0, 1, 1, 2, 3)))
    ends = [*starts[1:], float(span)]
    cell = [(s, min(e - s, 1.0), p) for s, e, p in zip(starts, ends, pitches, strict=True)]
    repeats = math.ceil(groove.n_beats / span)
    return [(s + r * span, d, p) for r in range(repeats) for s, d, p in cell]


def lead_phrases(groove: Groove, rng: np.random.Generator) -> list[list[Note]]:
    """Legato phrases of 4-8 beats (notes of 1/2-2 beats, a scale random walk in LEAD_MIDI),
    separated by 1-2 beat rests, like sung lines with breaths."""
    phrases: list[list[Note]] = []
    cursor = float(rng.choice((0.0, 0.5, 1.0)))
    degree = 7 + int(rng.choice((0, 2, 4)))
    while cursor < groove.n_beats:
        end = cursor + float(rng.integers(4, 9))
        notes: list[Note] = []
        while cursor < end:
            length = float(rng.choice((0.5, 1.0, 1.0, 1.5, 2.0)))
            notes.append((cursor, length, fold(groove.scale_midi(degree), *LEAD_MIDI)))
            cursor += length
            degree += int(rng.choice((-2, -1, 1, 2)))
        phrases.append(notes)
        cursor += float(rng.choice((1.0, 1.5, 2.0)))
    return phrases
