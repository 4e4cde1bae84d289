"""Rap takes whose timing is known: the test material of flow coaching (issue 18).

A take is a text-to-speech voice saying one-syllable words ("ta", "bop", "check", ...) on a
16th grid: bars of 4/4 cycling through two patterns with rests where breaths go, each onset
at grid time + ``offset_ms`` + N(0, ``jitter_ms``). Swing is where the off-beat 16th sits in
its 8th (0.50 straight .. 0.67), as in ``Rhythm``, ``inference.audio.beats`` (its swing s is
0.5 + s/4 here) and ``bench.gm_beats``; over a beat the rapper rides the beat's swing. A
cappella takes may drift in tempo. Over a beat (numpy ``make_beat`` in set A, ``bench.gm_beats``
in set B, ``mix_at_snr`` 0-5 dB under the voice) the note starts part-way into a bar and the
rapper comes in on the first downbeat after ``MIN_INTRO_S``, known to the sample. Above
``HALF_TIME_BPM`` pattern slots are 8ths (a half-time flow), so no take passes ~7 syll/s.

Words are rendered once per voice by ``../shared/corpus/make_corpus.py``'s engines (cached
as .npy), trimmed, and dated by ``energy_onset``: the centre of the first 10 ms frame (1 ms
hop) within 20 dB of the word's loudest. ``vowel_onset`` (first pitched frame) is kept too:
a detector dating syllables by the vowel hears "check" later than "up", which shifts an
absolute offset but not the difference between two takes that differ by a shift only.

Two disjoint sets, decide on one and confirm on the other: A (its voices and patterns, numpy
boombap and trap at 70-150 BPM, straight and swung), B (other voices and patterns, gm-a and
gm-b beats at those families' tempos). A take is a function of its ``TakeSpec``;
``draw_spec(set, index, seed)`` draws one among the voices installed here.

Not here: measuring (``bench.rhythm``); real rap (no lyrics, no pitch contour, no room).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.conditions import _shared_corpus
from inference.audio.beats import SWING_MAX, make_beat, mix_at_snr
from inference.constants import SAMPLE_RATE

SR = SAMPLE_RATE
WORDS = ("ta", "ka", "bop", "dat", "go", "yeah", "check", "flow", "rap", "mic", "drop", "up",
         "on", "it", "yo", "bang")  # fmt: skip
WORD_RATE = 1.6  # TTS speed factor: words as short as syllables in a fast flow
ONSET_FRAME, ONSET_HOP, ONSET_RANGE_DB = 160, 16, 20.0  # 10 ms frames, 1 ms hop, dB
VOWEL_FRAME, VOWEL_HOP = 640, 32  # 40 ms frames, 2 ms hop: pitch needs a few periods
VOWEL_PERIODICITY = 0.5  # normalised autocorrelation at 80-400 Hz that counts as a vowel
MIN_GAP_S = 0.06  # jittered onsets keep their order and at least this much between them
JITTER_CLIP = 2.5  # jitter draws are clipped at this many sigmas
FADE_S = 0.006  # fade where a word is cut short by the next one
MIN_KEEP_S = 0.03  # ... but a word keeps at least this much after its onset
TAIL_S = 0.6  # the last syllable's grid time is at least this before the note's end
MIN_INTRO_S = 1.0  # over a beat, the rapper comes in on the first downbeat after this
HALF_TIME_BPM = 115.0  # above it pattern slots are 8ths
NOISE_RMS = 10 ** (-70 / 20)  # a cappella: the room's floor, linear
VOICE_RMS = 0.1  # words are levelled to this before accents

# "x": a syllable, ".": a rest; most patterns breathe on beat 4
PATTERNS = {
    "A": ("x.x.x.x.x.x.x...", "xxxxxxxxxxxx....", "x.xxx.xxx.xxx...", "x..x..x.x..x.x..",
          "xx.xxx.xx.xxx...", "x.x.xx.xx.x.x..."),
    "B": ("x.xx.xx.x.xx....", "x..x..x..x..x...", "..x.xxx.x.xxx...", "xxx.xxx.xxx.x...",
          "x.x.x.xxx.x.x.x.", "xx.x.xx.x.xx...."),
}  # fmt: skip
VOICES = {
    "A": ("mbrola-us1", "mbrola-us3", "mbrola-en1", "mbrola-de2", "rhvoice-bdl",
          "rhvoice-slt", "pico-en-us", "flite-kal16", "espeak-m1", "espeak-f2", "espeak-m5"),
    "B": ("mbrola-us2", "mbrola-fr1", "mbrola-de5", "rhvoice-clb", "rhvoice-alan",
          "pico-en-gb", "festival-ked", "flite-rms", "flite-awb", "espeak-m3", "espeak-f4"),
}  # fmt: skip
# (family, style, written tempo range): set A numpy, set B the GM families' own tempos
BEATS = {
    "A": (("numpy", "boombap", (70.0, 100.0)), ("numpy", "trap", (120.0, 150.0))),
    "B": (("gm-a", "boombap", (84.0, 91.0)), ("gm-a", "trap", (146.0, 160.0)),
          ("gm-a", "rnb", (70.0, 77.0)), ("gm-b", "boombap", (92.0, 98.0)),
          ("gm-b", "drill", (138.0, 145.0)), ("gm-b", "lofi", (78.0, 83.0))),
}  # fmt: skip
ACAPPELLA_BPM = {"A": (75.0, 110.0), "B": (80.0, 105.0)}
SET_SALT = {"A": 101, "B": 202}
ACAPPELLA_EVERY = 3  # every third take index is a cappella


@dataclass(frozen=True)
class TakeSpec:
    """Everything a take is made from. Times in s, offsets in ms, swing 0.5..0.67."""

    set_name: str
    index: int
    seed: int  # words, accents and jitter draws (the same for every offset and jitter)
    voice: str  # an identity of make_corpus.py
    bpm: float  # the beat's written tempo; a cappella, the tempo at the start
    seconds: float
    patterns: tuple[str, ...]  # bars cycle through them
    step: int  # 16ths per pattern slot: 1, or 2 (8ths) on fast beats
    swing: float
    offset_ms: float = 0.0  # positive: behind the grid
    jitter_ms: float = 10.0
    drift_pct: float = 0.0  # a cappella: tempo at the end over the start, -1, %
    family: str | None = None  # "numpy", "gm-a", "gm-b"; None: a cappella
    style: str | None = None
    beat_seed: int = 0
    parts: tuple[str, ...] = ()  # GM parts played
    snr_db: float = 3.0  # voice over beat
    cut_s: float = 0.0  # over a beat: its first cut_s are not in the note
    lead_s: float = 0.5  # a cappella: silence before bar 0

    def but(self, **changes: object) -> TakeSpec:
        """This take with some fields changed (an offset, a jitter)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class Truth:
    """What a take's timing is. Times in s from the note's start."""

    spec: TakeSpec
    bpm: float  # the grid's tempo at bar 0 (the beat's true tempo)
    beat_s: float
    downbeat_s: float  # bar 0 of the rapped grid: a downbeat of the beat
    swing: float
    offset_ms: float  # realised: median of onset minus grid time
    vowel_offset_ms: float  # the same for the vowels' onsets
    jitter_ms: float  # realised: standard deviation of the deviations
    drift_pct: float  # realised, between the first and the last syllable's 16th
    sixteenths: np.ndarray  # each syllable's 16th index from bar 0 (straight)
    grid_times: np.ndarray
    onset_times: np.ndarray
    vowel_times: np.ndarray  # nan where a word has no pitched frame
    words: tuple[str, ...]
    starts: np.ndarray  # sample where each word's audio starts

    @property
    def beat(self) -> str | None:
        return f"{self.spec.family} {self.spec.style}" if self.spec.family else None

    def as_dict(self) -> dict:
        """The spec and the truth as JSON (times rounded to 0.1 ms)."""
        out: dict = {"spec": dataclasses.asdict(self.spec), "beat": self.beat}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                out[f.name] = np.round(v, 4).tolist()
            elif f.name != "spec":
                out[f.name] = v
        return out


@dataclass(frozen=True, eq=False)
class Take:
    audio: np.ndarray  # float32, 16 kHz mono
    truth: Truth


# --------------------------------------------------------------------------- words
def _frame_energy(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    c = np.concatenate(([0.0], np.cumsum(np.square(x, dtype=np.float64))))
    starts = np.arange(0, max(1, x.size - frame + 1), hop)
    return c[np.minimum(starts + frame, x.size)] - c[starts]


def energy_onset(x: np.ndarray) -> int:
    """Sample of a sound's onset: the centre of the first 10 ms frame (1 ms hop) within
    ``ONSET_RANGE_DB`` of its loudest frame."""
    e = _frame_energy(x, ONSET_FRAME, ONSET_HOP)
    first = int(np.argmax(e >= e.max() * 10 ** (-ONSET_RANGE_DB / 10)))
    return first * ONSET_HOP + ONSET_FRAME // 2


def vowel_onset(x: np.ndarray) -> int | None:
    """Sample of the first pitched frame (80-400 Hz) within 20 dB of the loudest; None if
    the sound has none (a vowel's onset: after the burst of "t" or the hiss of "ch")."""
    half = VOWEL_FRAME // 2
    x = np.concatenate((np.zeros(half), x))  # frames centred from the first sample on
    if x.size < VOWEL_FRAME:
        return None
    idx = np.arange(0, x.size - VOWEL_FRAME + 1, VOWEL_HOP)
    window = np.hanning(VOWEL_FRAME)
    frames = np.stack([x[i : i + VOWEL_FRAME] for i in idx]) * window
    ac = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * VOWEL_FRAME, axis=1)) ** 2, axis=1)
    ref = np.fft.irfft(np.abs(np.fft.rfft(window, 2 * VOWEL_FRAME)) ** 2)  # the window's bias
    lo, hi = SR // 400, SR // 80
    norm = ac[:, lo:hi] / np.maximum(ac[:, :1], 1e-12) / (ref[lo:hi] / ref[0])
    periodic = norm.max(axis=1)
    loud = ac[:, 0] >= ac[:, 0].max() * 10 ** (-ONSET_RANGE_DB / 10)
    hits = np.flatnonzero(loud & (periodic >= VOWEL_PERIODICITY))
    return int(idx[hits[0]]) if hits.size else None


@dataclass(frozen=True, eq=False)
class Word:
    audio: np.ndarray  # float32, trimmed, at VOICE_RMS
    onset: int  # samples into ``audio``
    vowel: int | None


class WordBank:
    """Words rendered once per voice, kept as .npy under ``cache_dir`` and in memory."""

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(cache_dir) / "words"
        self._words: dict[tuple[str, str], Word] = {}

    def get(self, voice: str, text: str) -> Word:
        key = (voice, text)
        if key not in self._words:
            path = self.dir / voice / f"{text}-r{WORD_RATE:g}-v2.npy"
            if not path.is_file():
                _save_atomic(path, _synthesise(voice, text))
            audio = np.load(path, allow_pickle=False)
            self._words[key] = Word(audio, energy_onset(audio), vowel_onset(audio))
        return self._words[key]


def _synthesise(voice: str, text: str) -> np.ndarray:
    corpus = _shared_corpus()
    with tempfile.TemporaryDirectory(prefix="timing-words-") as tmp:
        path, _ = corpus.synth_line(corpus.VOICE_BY_ID[voice], text, WORD_RATE, 0.0, tmp, 0)
        x = corpus.load16k(path)
    # some engines leave a -40 dB floor around a word: start 30 dB under its peak, end 35
    db = 10 * np.log10(_frame_energy(x, ONSET_FRAME, ONSET_FRAME) + 1e-12)
    first = int(np.argmax(db > db.max() - 30.0)) * ONSET_FRAME
    last = (db.size - int(np.argmax(db[::-1] > db.max() - 35.0))) * ONSET_FRAME
    x = x[max(0, first - ONSET_FRAME // 2) : last + ONSET_FRAME]
    if x.size < 2 * ONSET_FRAME:
        raise RuntimeError(f"{voice} rendered no audio for {text!r}")
    x = x * (VOICE_RMS / np.sqrt(np.mean(np.square(x))))
    x[:48] *= np.linspace(0.0, 1.0, 48)  # 3 ms in, 10 ms out: no clicks
    x[-ONSET_FRAME:] *= np.linspace(1.0, 0.0, ONSET_FRAME)
    return x.astype(np.float32)


def _save_atomic(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}.{path.name}")  # ends in .npy: np.save keeps it
    np.save(tmp, x, allow_pickle=False)
    os.replace(tmp, path)  # a parallel reader never sees half a file


def installed_voices(set_name: str) -> tuple[str, ...]:
    """The set's voices whose engine is installed here (empty without make_corpus.py)."""
    try:
        corpus = _shared_corpus()
    except (FileNotFoundError, ImportError):
        return ()
    return tuple(v for v in VOICES[set_name] if not corpus.available(corpus.VOICE_BY_ID[v]))


# --------------------------------------------------------------------------- specs
def draw_spec(set_name: str, index: int, seed: int = 0) -> TakeSpec:
    """Take ``index`` of a set: every third a cappella, else over a beat of the set."""
    voices = installed_voices(set_name)
    if not voices:
        raise RuntimeError(f"no voice of set {set_name}: ../shared/corpus/install_voices.sh")
    rng = np.random.default_rng([seed, SET_SALT[set_name], index])
    pick = rng.choice(len(PATTERNS[set_name]), size=2, replace=False)
    common = {
        "set_name": set_name, "index": index, "seed": int(rng.integers(2**31)),
        "voice": voices[int(rng.integers(len(voices)))],
        "seconds": round(float(rng.uniform(20.0, 30.0)), 2),
        "patterns": tuple(PATTERNS[set_name][int(i)] for i in pick),
    }  # fmt: skip
    if index % ACAPPELLA_EVERY == ACAPPELLA_EVERY - 1:
        bpm = float(rng.uniform(*ACAPPELLA_BPM[set_name]))
        swing = 0.5 if rng.random() < 0.5 else float(rng.uniform(0.55, 0.64))
        drift = 0.0 if rng.random() < 0.5 else float(rng.choice((-1, 1)) * rng.uniform(1, 4))
        lead = float(rng.uniform(0.3, 1.0))
        return TakeSpec(**common, bpm=bpm, step=1, swing=swing, drift_pct=drift, lead_s=lead)
    family, style, tempo = BEATS[set_name][int(rng.integers(len(BEATS[set_name])))]
    bpm = round(float(rng.uniform(*tempo)), 1)
    beat_seed, snr = int(rng.integers(2**31)), float(rng.uniform(0.0, 5.0))
    cut = float(rng.uniform(0.0, 240.0 / bpm))
    parts: tuple[str, ...] = ()
    if family == "numpy":
        swung = style == "boombap" and rng.random() < 0.5
        swing = 0.5 + float(rng.uniform(0.2, 0.6)) / 4 if swung else 0.5
    else:
        from bench.gm_beats.compose import _Composer  # the swing it draws from the seed
        from bench.gm_beats.styles import FAMILIES, FULL_MIXES

        gm_style = next(s for s in FAMILIES[family].styles if s.name == style)
        swing = _Composer(gm_style, bpm, 1, beat_seed).swing
        parts = FULL_MIXES[int(rng.integers(len(FULL_MIXES)))]
    step = 2 if bpm > HALF_TIME_BPM else 1
    return TakeSpec(**common, bpm=bpm, step=step, swing=swing, family=family, style=style,
                    beat_seed=beat_seed, parts=parts, snr_db=snr, cut_s=cut)  # fmt: skip


# --------------------------------------------------------------------------- beats
@dataclass(frozen=True, eq=False)
class _Beat:
    audio: np.ndarray  # the note's length, from cut_s into the beat
    beat_s: float  # its true period (MIDI tempos are whole microseconds)


@lru_cache(maxsize=4)  # a group's takes share one beat
def _beat(spec: TakeSpec, cache_dir: Path | None) -> _Beat:
    """The beat under a take (its offset and jitter set to 0: the key of a group)."""
    seconds = spec.seconds + spec.cut_s + 0.1
    if spec.family == "numpy":
        swing = min(SWING_MAX, round(4 * (spec.swing - 0.5), 9))  # its swing s: 0.5 + s/4
        b = make_beat(spec.style or "boombap", spec.bpm, seconds, spec.beat_seed, swing=swing)
        audio, beat_s = b.audio, 60.0 / b.bpm
    else:
        from bench.gm_beats import FAMILIES, render

        fam = FAMILIES[str(spec.family)]
        style = next(s for s in fam.styles if s.name == spec.style)
        b = render(style, spec.bpm, seconds, spec.beat_seed, fam.soundfont, spec.parts,
                   SR, cache_dir / str(spec.family) if cache_dir else None)  # fmt: skip
        audio, beat_s = b.audio, float(b.beat_times[1] - b.beat_times[0])
    start = round(spec.cut_s * SR)
    return _Beat(audio[start : start + round(spec.seconds * SR)], beat_s)


# --------------------------------------------------------------------------- takes
def _sixteenths(spec: TakeSpec) -> np.ndarray:
    """16th index (from bar 0) of every syllable the patterns place, for many bars."""
    cycle = 16 * spec.step  # a pattern's 16 slots
    out = []
    for k in range(int(spec.seconds * spec.bpm / 60 / 4 / spec.step) + 2):
        pattern = spec.patterns[k % len(spec.patterns)]
        out += [k * cycle + i * spec.step for i, c in enumerate(pattern) if c == "x"]
    return np.asarray(out, dtype=float)


def grid_time(n: np.ndarray, start: float, q: float, dq: float, swing: float) -> np.ndarray:
    """Time of straight 16th indices n: off-beat (odd) 16ths swung, t = start + q n + dq n^2/2
    (the quadratic of a tempo drifting linearly in 16ths), as ``Grid.time_of``."""
    swung = n + np.where(np.mod(n, 2) == 1, 2 * swing - 1, 0.0)
    return start + q * swung + dq * swung * swung / 2


def render_take(
    spec: TakeSpec, words: WordBank, beat_cache: str | os.PathLike[str] | None = None
) -> Take:
    """The take's 16 kHz audio and its truth (GM renders cached under ``beat_cache``)."""
    n_samples = round(spec.seconds * SR)
    key = spec.but(offset_ms=0.0, jitter_ms=0.0)
    beat = _beat(key, Path(beat_cache) if beat_cache else None) if spec.family else None
    beat_s = beat.beat_s if beat else 60.0 / spec.bpm
    q, bar = beat_s / 4, 4 * beat_s
    start = (np.ceil((MIN_INTRO_S + spec.cut_s) / bar) * bar - spec.cut_s) if beat else spec.lead_s
    n = _sixteenths(spec)
    total = (spec.seconds - TAIL_S - start) / q  # 16ths in the take, for the drift
    dq = (q / (1 + spec.drift_pct / 100) - q) / total
    grid = grid_time(n, start, q, dq, spec.swing)
    keep = grid <= spec.seconds - TAIL_S
    n, grid = n[keep], grid[keep]
    rng = np.random.default_rng([spec.seed, 1])  # the same draws for every offset and jitter
    z = np.clip(rng.standard_normal(n.size), -JITTER_CLIP, JITTER_CLIP)
    chosen = tuple(WORDS[int(i)] for i in rng.integers(len(WORDS), size=n.size))
    gains_db = rng.uniform(-1.5, 1.5, n.size) + np.where(np.mod(n, 4) == 0, 2.0, 0.0)
    onsets = grid + (spec.offset_ms + spec.jitter_ms * z) / 1000
    for i in range(1, onsets.size):  # keep the order: no syllable overtakes the one before
        onsets[i] = max(onsets[i], onsets[i - 1] + MIN_GAP_S)
    clips = [words.get(spec.voice, w) for w in chosen]
    starts = np.array([round(t * SR) - c.onset for t, c in zip(onsets, clips, strict=True)])
    voice, vowels = _place(clips, starts, gains_db, n_samples)
    onsets = (starts + np.array([c.onset for c in clips])) / SR  # to the sample
    dev = onsets - grid
    truth = Truth(
        spec=spec, bpm=60.0 / beat_s, beat_s=beat_s, downbeat_s=float(start), swing=spec.swing,
        offset_ms=float(np.median(dev) * 1000),
        vowel_offset_ms=float(np.nanmedian(vowels - grid) * 1000),
        jitter_ms=float(np.std(dev) * 1000),
        drift_pct=float(100 * ((q + dq * n[0]) / (q + dq * n[-1]) - 1)),
        sixteenths=n.astype(int), grid_times=grid, onset_times=onsets, vowel_times=vowels,
        words=chosen, starts=starts,
    )  # fmt: skip
    if beat is not None:
        audio = mix_at_snr(voice, beat.audio, spec.snr_db)
    else:
        noise = np.random.default_rng([spec.seed, 2]).standard_normal(n_samples) * NOISE_RMS
        audio = (voice + noise).astype(np.float32)
    return Take(audio, truth)


def _place(
    clips: list[Word], starts: np.ndarray, gains_db: np.ndarray, n_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """The words at their start samples, each cut (with a fade) where the next begins but
    never within ``MIN_KEEP_S`` of its own onset; and each vowel's onset time (nan if it
    was cut off or has none)."""
    voice = np.zeros(n_samples)
    vowels = np.full(len(clips), np.nan)
    for i, (clip, s) in enumerate(zip(clips, starts, strict=True)):
        end = min(clip.audio.size, n_samples - s)
        if i + 1 < len(clips):
            keep = clip.onset + round(MIN_KEEP_S * SR)
            end = min(end, max(int(starts[i + 1]) - s, keep))
        x = clip.audio[:end].astype(np.float64) * 10 ** (gains_db[i] / 20)
        if end < clip.audio.size:
            fade = min(round(FADE_S * SR), x.size)
            x[x.size - fade :] *= np.linspace(1.0, 0.0, fade)
        voice[s : s + end] += x
        if clip.vowel is not None and clip.vowel < end:
            vowels[i] = (s + clip.vowel) / SR
    return voice.astype(np.float32), vowels
