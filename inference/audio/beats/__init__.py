"""Synthetic hip-hop beats with pitched parts, made with numpy alone, with their beat grid.

What it is for: members rap over real beats, whose 808, chords and melody are pitched and
sustained exactly where a voice is (100-900 Hz), with drums on top. These beats stand in for
them (a) at catalogue build time, where a voice window is mixed over a random beat so that
the matching space learns to ignore beats, and (b) in tests and benchmarks: a beat alone
must be refused as "no voice", and a voice over a beat must still be found. ``mix_at_snr``
puts a voice over a beat at a known active-voice-to-beat power ratio.

A beat is a ``Groove`` (style, tempo, swing, key, chords, drum patterns: ``score``)
played by one function per part (``drums``, ``bass_808``, ``chord_pad``, ``melody``,
``lead``: ``parts``, with the sounds of ``sounds``); ``make_beat`` mixes the
parts that are on and ``random_beat`` draws everything. The vocal-like ``lead`` (a
formant-filtered saw with vibrato in a sung voice's range) is there to make beats that fool
a naive voice detector.

Styles (written tempo; the 808 and pitched parts are the same family in all):
boombap 72-100 BPM, swing 0-0.4, kick/snare on 1-3 / 2-4, 8th or 16th hats;
trap 120-160 BPM, half-time snare on 3, hat rolls, gliding 808;
lofi 68-90 BPM, swing 0.25-0.6, dusty low-passed drums, electric piano;
drill 136-146 BPM, half-time, triplet hats, sliding 808, phrygian / harmonic minor.

What it deliberately does not do: sound like a record. There is no sampling, no General-MIDI
rendering (fluidsynth beats are another family, made elsewhere), no reverb, no sidechain,
no mastering beyond a gain and a peak limit, no file or network access and no hidden state:
a beat is a function of its parameters and a ``numpy.random.Generator`` (or an int seed).
Nothing here runs on a request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np

from .parts import bass_808, chord_pad, drums, lead, melody
from .score import (
    BEATS_PER_BAR,
    SAMPLE_RATE,
    SCALES,
    STYLES,
    SWING_MAX,
    Groove,
    Seed,
    generator,
    make_groove,
    pick,
    uniform,
)
from .sounds import midi_to_hz

__all__ = [
    "DEFAULT_PARTS",
    "PARTS",
    "SAMPLE_RATE",
    "SCALES",
    "STYLES",
    "SWING_MAX",
    "Beat",
    "Groove",
    "bass_808",
    "chord_pad",
    "drums",
    "lead",
    "make_beat",
    "make_groove",
    "melody",
    "midi_to_hz",
    "mix_at_snr",
    "random_beat",
]

PARTS = ("drums", "808", "chords", "melody", "lead")
DEFAULT_PARTS = frozenset({"drums", "808", "chords", "melody"})
PART_GAIN_DB = {"drums": 0.0, "808": -3.0, "chords": -9.0, "melody": -8.0, "lead": -6.0}
RANDOM_GAIN_DB = 3.0  # dB: random_beat moves each part's gain by up to this either way
TARGET_RMS = 0.1  # linear (-20 dBFS): level of a mix before its peak limit
PEAK_MAX = 0.99  # linear: no output sample is louder
LEVEL_FRAME_S = 0.01  # s: frames in which a voice's active power is measured
ACTIVE_RANGE_DB = 30.0  # dB: active frames are within this of the loudest frame

_Render = Callable[[Groove, np.random.Generator, Mapping[str, str]], np.ndarray]
_RENDER: dict[str, _Render] = {
    "drums": lambda g, r, _t: drums(g, r),
    "808": lambda g, r, _t: bass_808(g, r),
    "chords": lambda g, r, t: chord_pad(g, r, t.get("chords")),
    "melody": lambda g, r, t: melody(g, r, t.get("melody")),
    "lead": lambda g, r, _t: lead(g, r),
}


@dataclass(frozen=True, eq=False)
class Beat:
    """A rendered beat and its ground truth."""

    audio: np.ndarray  # float32, mono, peak <= PEAK_MAX
    sr: int  # Hz
    bpm: float  # written tempo (trap and drill feel half of it)
    beat_times: np.ndarray  # s: the quarter-note grid, from 0, every 60 / bpm
    downbeats: np.ndarray  # s: bar starts, every fourth beat time
    style: str
    parts: frozenset[str]
    swing: float  # 0..SWING_MAX
    key: str  # e.g. "F# harmonic_minor"


def _check_parts(parts: Collection[str] | None) -> frozenset[str]:
    chosen = DEFAULT_PARTS if parts is None else frozenset(parts)
    if not chosen or chosen - set(PARTS):
        raise ValueError(f"parts must be a non-empty subset of {PARTS}, got {sorted(chosen)}")
    return chosen


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return x / rms if rms > 0 else x


def _limit(x: np.ndarray) -> np.ndarray:
    """``x`` scaled down as a whole if a peak exceeds PEAK_MAX; float32 (whose rounding
    could lift 0.99 a hair above it, hence the margin)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    ceiling = PEAK_MAX * (1.0 - 1e-6)
    return np.asarray(x * (ceiling / peak) if peak > ceiling else x, dtype=np.float32)


def _master(stems: Mapping[str, np.ndarray], gains_db: Mapping[str, float]) -> np.ndarray:
    """Parts at unit RMS times their gains, summed, at TARGET_RMS, peaks at most PEAK_MAX."""
    n = len(next(iter(stems.values())))
    levelled = (
        _unit_rms(x.astype(np.float64)) * 10 ** (gains_db[k] / 20) for k, x in stems.items()
    )
    return _limit(_unit_rms(sum(levelled, np.zeros(n))) * TARGET_RMS)


def make_beat(
    style: str = "trap",
    bpm: float | None = None,
    seconds: float = 8.0,
    rng: Seed = None,
    *,
    parts: Collection[str] | None = None,
    swing: float | None = None,
    bars: int | None = None,
    tonic: int | None = None,
    scale: str | None = None,
    gains: Mapping[str, float] | None = None,
    timbres: Mapping[str, str] | None = None,
    sr: int = SAMPLE_RATE,
) -> Beat:
    """A beat of ``style`` (one of STYLES) with the ``parts`` that are on (of PARTS; default
    DEFAULT_PARTS), ``seconds`` long (or ``bars`` bars of 4/4).

    Unset ``bpm``, ``swing`` (0..SWING_MAX), ``tonic`` (pitch class, 0 = C) and ``scale``
    (a key of SCALES) are drawn from the style. ``gains`` are dB added to PART_GAIN_DB per
    part; ``timbres`` may name the "chords" ("saw", "organ", "keys") and "melody" ("pluck",
    "bell") sounds. Each part draws from its own stream, so turning one part off leaves the
    others unchanged. ``rng``: a generator, or an int seed.
    """
    gen = generator(rng)
    groove = make_groove(
        style, bpm, seconds, gen, swing=swing, bars=bars, tonic=tonic, scale=scale, sr=sr
    )
    chosen = _check_parts(parts)
    seeds = gen.integers(2**63, size=len(PARTS))
    stems = {
        name: _RENDER[name](groove, np.random.default_rng(seed), timbres or {})
        for name, seed in zip(PARTS, seeds, strict=True)
        if name in chosen
    }
    gains_db = {k: PART_GAIN_DB[k] + (gains or {}).get(k, 0.0) for k in stems}
    beat_times = np.arange(groove.n_beats) * groove.beat_s
    return Beat(
        audio=_master(stems, gains_db),
        sr=sr,
        bpm=groove.bpm,
        beat_times=beat_times,
        downbeats=beat_times[::BEATS_PER_BAR],
        style=style,
        parts=chosen,
        swing=groove.swing,
        key=groove.key,
    )


def _random_parts(rng: np.random.Generator) -> frozenset[str]:
    """15 % drums (and 808) only; 15 % chords and melody (lead sometimes) with no drums;
    else drums and 808 with some of chords, melody, lead."""
    u = rng.random()
    if u < 0.15:
        return frozenset({"drums", "808"} if rng.random() < 0.5 else {"drums"})
    if u < 0.30:
        return frozenset(
            {"chords", "melody", "lead"} if rng.random() < 0.3 else {"chords", "melody"}
        )
    chances = (("chords", 0.8), ("melody", 0.7), ("lead", 0.25))
    return frozenset({"drums", "808"} | {p for p, c in chances if rng.random() < c})


def random_beat(rng: Seed = None, seconds: float = 8.0, sr: int = SAMPLE_RATE) -> Beat:
    """A beat with style, tempo, key, swing, timbres, part mix and part gains all drawn."""
    gen = generator(rng)
    style = pick(gen, STYLES)
    parts = _random_parts(gen)
    gains = {p: uniform(gen, (-RANDOM_GAIN_DB, RANDOM_GAIN_DB)) for p in sorted(parts)}
    return make_beat(style, None, seconds, gen, parts=parts, gains=gains, sr=sr)


def _active_power(x: np.ndarray, sr: int) -> float:
    """Mean power of the LEVEL_FRAME_S frames within ACTIVE_RANGE_DB of the loudest one."""
    size = max(int(LEVEL_FRAME_S * sr), 1)
    n = x.size // size
    if n == 0:
        return float(np.mean(np.square(x)))
    energy = np.mean(np.square(x[: n * size]).reshape(n, size), axis=1)
    return float(energy[energy >= energy.max() * 10 ** (-ACTIVE_RANGE_DB / 10)].mean())


def mix_at_snr(
    voice: np.ndarray, beat: np.ndarray, snr_db: float, rng: Seed = None, *, sr: int = SAMPLE_RATE
) -> np.ndarray:
    """``voice`` plus ``beat`` scaled so that voice power / beat power = ``snr_db``; float32.

    The voice's power is that of its active frames (10 ms frames within 30 dB of its
    loudest); the beat's is over all of it as heard under the voice: looped or cut to the
    voice's length, from a random offset when ``rng`` is given (else from 0). The sum is
    scaled down as a whole if a peak exceeds PEAK_MAX, which keeps the ratio.
    """
    v = np.asarray(voice, dtype=np.float64)
    b = np.asarray(beat, dtype=np.float64)
    if v.ndim != 1 or b.ndim != 1 or v.size == 0 or b.size == 0:
        raise ValueError(f"expected non-empty mono 1-D audio, got {v.shape} and {b.shape}")
    offset = int(generator(rng).integers(b.size)) if rng is not None else 0
    under = b[(offset + np.arange(v.size)) % b.size]
    p_voice, p_beat = _active_power(v, sr), float(np.mean(np.square(under)))
    if p_voice <= 0 or p_beat <= 0:
        raise ValueError("cannot set an SNR with a silent voice or a silent beat")
    return _limit(v + under * math.sqrt(p_voice / (p_beat * 10 ** (snr_db / 10))))
