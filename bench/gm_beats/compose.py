"""The notes of one beat: drums, bass, chords and melody written from one seed.

``_Composer(style, bpm, bars, seed)`` draws everything that is composed (key, minor
progression, swing, programs, part levels) and writes each part as a list of ``_Note``
(positions and lengths in beats, MIDI pitch, velocity, bass slides). The random draws
happen in a fixed order, so a part comes out the same whatever else is played.

Deliberately not here: MIDI messages or files (``midi``), sound (``render``), the
constants and styles themselves (``styles``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .styles import (
    BASS_ROOTS,
    BEATS_PER_BAR,
    CHORD_ROOTS,
    CLAP,
    HAT,
    KICK,
    LEVEL_JITTER_DB,
    MELODY_RANGE,
    MINOR_PROGRESSIONS,
    NATURAL_MINOR,
    OPEN_HAT,
    PART_LEVEL_DB,
    PARTS,
    SNARE,
    SNARE2,
    Style,
)


@dataclass
class _Note:
    beat: float  # from the start of the song, in beats
    dur: float  # in beats
    pitch: int
    vel: int
    slide: bool = False  # bass: glide here from the previous note instead of striking


# --------------------------------------------------------------------------- composition


def _swung(step: float, swing: float) -> float:
    """A position on the 16th grid (0..15 per bar, fractions allowed) in beats."""
    if float(step).is_integer() and int(step) % 2 == 1:
        return (step - 1) / 4 + swing / 2
    return step / 4


def _vel(rng: np.random.Generator, centre: int, spread: int = 8) -> int:
    return int(np.clip(centre + rng.integers(-spread, spread + 1), 1, 127))


class _Composer:
    """Writes every part of one beat from one seed."""

    def __init__(self, style: Style, bpm: float, bars: int, seed: int) -> None:
        self.style = style
        self.bpm = bpm
        self.bars = bars
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        self.root = int(rng.integers(12))
        self.progression = MINOR_PROGRESSIONS[int(rng.integers(len(MINOR_PROGRESSIONS)))]
        self.harmonic = bool(rng.random() < 0.5)  # raise the 7th in V chords
        self.swing = float(rng.uniform(*style.swing))
        self.programs = {
            "drums": int(rng.choice(style.kits)),
            "bass": int(rng.choice(style.bass)),
            "chords": int(rng.choice(style.chords)),
            "melody": int(rng.choice(style.melody)),
        }
        self.levels_db = {
            p: PART_LEVEL_DB[p] + float(rng.uniform(-LEVEL_JITTER_DB, LEVEL_JITTER_DB))
            for p in PARTS
        }
        self.kick_beats: list[list[float]] = [[] for _ in range(bars)]

    # ----- harmony
    def degree(self, bar: int) -> int:
        return self.progression[bar % len(self.progression)]

    def pitch_class(self, degree: int, chord_degree: int) -> int:
        pc = self.root + NATURAL_MINOR[degree % 7] + 12 * (degree // 7)
        if self.harmonic and chord_degree % 7 == 4 and degree % 7 == 6:
            pc += 1  # leading tone in the V chord
        return pc

    def placed(self, pc: int, lo: int) -> int:
        """``pc`` moved by octaves into ``lo .. lo + 11``."""
        return lo + (pc - lo) % 12

    # ----- drums
    def drums(self) -> list[_Note]:
        rng, name = self.rng, self.style.name
        notes: list[_Note] = []
        kick_sets = {
            "boombap": [(0, 10), (0, 7, 10), (0, 3, 10), (0, 8, 10), (0, 10, 13)],
            "rnb": [(0, 7, 10), (0, 9), (0, 3, 8), (0, 10, 11)],
            "lofi": [(0, 7, 10), (0, 10), (0, 6, 9)],
            "trap": [(0, 7, 11), (0, 3, 10, 14), (0, 11), (0, 6, 10), (0, 10, 12)],
            "drill": [(0, 6), (0, 10, 11), (0, 3, 6, 14), (0, 7)],
        }[name]
        pick = rng.choice(len(kick_sets), size=2, replace=False)
        kick_a, kick_b = kick_sets[int(pick[0])], kick_sets[int(pick[1])]
        clap = bool(rng.random() < 0.4)
        open_hat = bool(rng.random() < 0.5)
        hat_16ths = bool(rng.random() < 0.5)
        for bar in range(self.bars):
            start = bar * BEATS_PER_BAR
            kicks = kick_b if bar % 4 == 3 else kick_a
            self.kick_beats[bar] = [start + _swung(s, self.swing) for s in kicks]
            for s in kicks:
                notes.append(_Note(start + _swung(s, self.swing), 0.25, KICK, _vel(rng, 112, 6)))
            hits: list[tuple[float, int, int]] = []  # (16th step, note, velocity)
            if name in ("trap", "drill"):
                hits.append((8, SNARE, _vel(rng, 110, 6)))
                if clap or name == "trap":
                    hits.append((8, CLAP, _vel(rng, 100, 8)))
                if name == "drill" and bar % 2 == 1:
                    hits.append((15 if rng.random() < 0.5 else 13, SNARE, _vel(rng, 96, 8)))
                if name == "trap" and rng.random() < 0.25:
                    hits.append((15, SNARE, _vel(rng, 60, 8)))
            else:
                snare = SNARE2 if name == "rnb" and rng.random() < 0.5 else SNARE
                for s in (4, 12):
                    hits.append((s, snare, _vel(rng, 106, 6)))
                    if clap:
                        hits.append((s, CLAP, _vel(rng, 84, 8)))
                if rng.random() < 0.3:
                    hits.append((7 if rng.random() < 0.5 else 15, SNARE, _vel(rng, 45, 6)))
            hits += self.hats(bar, open_hat, hat_16ths)
            for s, note, vel in hits:
                beat = start + (_swung(s, self.swing) if float(s).is_integer() else s / 4)
                if name == "lofi" and note in (SNARE, CLAP):
                    beat += 0.03  # laid back
                notes.append(_Note(beat, 0.2, note, vel))
        return notes

    def hats(self, bar: int, open_hat: bool, sixteenths: bool) -> list[tuple[float, int, int]]:
        rng, name = self.rng, self.style.name
        hits: list[tuple[float, int, int]] = []
        if name == "drill":  # 8th-note triplet grid with gaps, the drill skip
            for t in (0, 2, 3, 5, 6, 8, 9, 11):
                if rng.random() < 0.88:
                    hits.append((t * 4 / 3, HAT, _vel(rng, 100 if t % 3 == 0 else 84, 6)))
        else:
            every = 1 if (name == "rnb" or (sixteenths and name == "trap")) else 2
            for s in range(0, 16, every):
                if open_hat and s == 14 and name != "trap":
                    hits.append((s, OPEN_HAT, _vel(rng, 72, 6)))
                    continue
                accent = 100 if s % 4 == 0 else (88 if s % 2 == 0 else 70)
                hits.append((s, HAT, _vel(rng, accent, 6)))
        if name in ("trap", "drill") and rng.random() < 0.6:  # a roll over one beat
            beat = int(rng.integers(4))
            div = int(rng.choice([4, 6, 8])) if name == "trap" else 6  # per beat
            hits = [h for h in hits if not beat * 4 <= h[0] < beat * 4 + 4]
            for i in range(div):
                hits.append((beat * 4 + 4 * i / div, HAT, int(70 + 50 * i / div)))
        if name == "trap" and open_hat and rng.random() < 0.5:
            hits.append((6, OPEN_HAT, _vel(rng, 70, 6)))
        return hits

    # ----- bass
    def bass(self) -> list[_Note]:
        rng, name = self.rng, self.style.name
        notes: list[_Note] = []
        slide_p = {"trap": 0.35, "drill": 0.6}.get(name, 0.0)
        for bar in range(self.bars):
            start, deg = bar * BEATS_PER_BAR, self.degree(bar)
            root = self.placed(self.pitch_class(deg, deg), BASS_ROOTS[0])
            fifth = root + 7
            nxt = self.placed(self.pitch_class(self.degree(bar + 1), deg), BASS_ROOTS[0])
            if name in ("trap", "drill"):
                onsets = list(self.kick_beats[bar])
                if name == "drill":  # the bass walks off the kick
                    onsets += [start + b for b in (1.5, 2.75, 3.5) if rng.random() < 0.45]
                onsets = sorted(set(onsets))
                for i, on in enumerate(onsets):
                    end = onsets[i + 1] if i + 1 < len(onsets) else start + BEATS_PER_BAR
                    r = rng.random()
                    pitch = root if i == 0 or r < 0.5 else (root + 12 if r < 0.75 else fifth)
                    if i == len(onsets) - 1 and i > 0 and rng.random() < 0.4:
                        pitch = nxt if abs(nxt - root) <= 12 else root
                    if name == "drill" and i > 0 and rng.random() < 0.3:
                        pitch = root + int(rng.choice([3, -2, 10, 12]))
                    slide = i > 0 and rng.random() < slide_p
                    legato = 1.0 if (i + 1 < len(onsets)) else 0.98
                    notes.append(_Note(on, (end - on) * legato, pitch, _vel(rng, 112, 6), slide))
            elif name == "boombap":
                kicks = self.kick_beats[bar]
                for i, on in enumerate(kicks):
                    end = kicks[i + 1] if i + 1 < len(kicks) else start + 3.5
                    pitch = (
                        root
                        if i == 0 or rng.random() < 0.7
                        else int(rng.choice([fifth, 12 + root]))
                    )
                    notes.append(
                        _Note(on, max(0.25, min(1.5, end - on) * 0.85), pitch, _vel(rng, 100))
                    )
                if rng.random() < 0.5:  # pickup into the next chord
                    notes.append(
                        _Note(start + 3.5, 0.4, nxt + int(rng.choice([-1, 1, 2])), _vel(rng, 88))
                    )
            else:  # rnb, lofi: root held, then chord tones and a passing note
                notes.append(_Note(start, 1.4, root, _vel(rng, 100)))
                for beat, pool in (
                    (1.75, (root, fifth)),
                    (2.5, (fifth, root + 12, root + 3)),
                    (3.5, (nxt, root + 10)),
                ):
                    if rng.random() < 0.7:
                        notes.append(
                            _Note(
                                start + beat,
                                0.6 if beat < 3 else 0.45,
                                int(rng.choice(pool)),
                                _vel(rng, 94),
                            )
                        )
        return notes

    # ----- chords
    def chords(self) -> list[_Note]:
        rng, name = self.rng, self.style.name
        sevenths = bool(rng.random() < (0.8 if name in ("rnb", "lofi") else 0.35))
        rhythms: dict[str, list[list[tuple[float, float]]]] = {
            "boombap": [[(0, 4)], [(0, 1.5), (1.5, 1.0), (2.5, 1.5)], [(0, 2.5), (3, 1)]],
            "trap": [[(0, 4)]],
            "drill": [[(0, 4)], [(0, 2.5), (2.5, 1.5)]],
            "rnb": [[(0, 4)], [(0, 2.5), (2.5, 1.5)]],
            "lofi": [[(0, 1.75), (1.75, 2.25)], [(0, 4)]],
        }[name]
        rhythm = rhythms[int(rng.integers(len(rhythms)))]
        strum = 0.025 if name in ("rnb", "lofi") else 0.0
        notes: list[_Note] = []
        for bar in range(self.bars):
            deg = self.degree(bar)
            low = self.placed(self.pitch_class(deg, deg), CHORD_ROOTS[0])
            tones = [deg, deg + 2, deg + 4] + ([deg + 6] if sevenths else [])
            pitches = [low + self.pitch_class(t, deg) - self.pitch_class(deg, deg) for t in tones]
            for on, dur in rhythm:
                vel = _vel(self.rng, 70, 6)
                for i, pitch in enumerate(pitches):
                    beat = bar * BEATS_PER_BAR + on + i * strum
                    notes.append(_Note(beat, dur - i * strum, pitch, _vel(rng, vel, 3)))
        return notes

    # ----- melody
    def melody(self) -> list[_Note]:
        rng, name = self.rng, self.style.name
        grid = {"trap": 0.25, "drill": 1 / 3}.get(name, 0.5)
        density = {"rnb": 0.45, "trap": 0.45}.get(name, 0.55)
        motif_bars = 2 if rng.random() < 0.6 else 1
        slots = np.arange(0, motif_bars * BEATS_PER_BAR - 1e-9, grid)
        onsets = [float(p) for p in slots if p == 0 or rng.random() < density]
        offsets: list[int] = []  # scale steps above the chord's root
        step = int(rng.choice([0, 2, 4]))
        for p in onsets:
            if float(p).is_integer():  # strong positions: a chord tone
                step = min((0, 2, 4, 7), key=lambda t: abs(t - step))
            offsets.append(step)
            step = int(np.clip(step + rng.choice([-2, -1, 1, 2, 0, 3, -3]), -3, 9))
        call = bool(rng.random() < 0.35)  # melody every other 2 bars, call and response
        motif_len = motif_bars * BEATS_PER_BAR
        notes: list[_Note] = []
        prev = (MELODY_RANGE[0] + MELODY_RANGE[1]) // 2
        for bar in range(self.bars):
            if call and (bar // 2) % 2 == 1:
                continue
            deg = self.degree(bar)
            first = (bar % motif_bars) * BEATS_PER_BAR
            for i, p in enumerate(onsets):
                if not first <= p < first + BEATS_PER_BAR:
                    continue
                nxt = onsets[i + 1] if i + 1 < len(onsets) else motif_len
                dur = min(nxt - p, 1.5) * 0.9
                pc = self.pitch_class(deg + offsets[i], deg)
                candidates = [
                    q for q in range(MELODY_RANGE[0], MELODY_RANGE[1] + 1) if q % 12 == pc % 12
                ]
                pitch = min(candidates, key=lambda q: abs(q - prev))
                prev = pitch
                pos = p - first
                pos = _swung(pos * 4, self.swing) if (pos * 4).is_integer() else pos
                beat = bar * BEATS_PER_BAR + pos + float(rng.normal(0, 0.008))
                notes.append(_Note(max(beat, 0.0), dur, pitch, _vel(rng, 92, 10)))
        return notes
