"""Musical beats under query clips: what a member's note over a real beat sounds like.

Three families, so that a choice made on one is confirmed on another:

- ``numpy``: the synthesiser of :mod:`inference.audio.beats` (808, chords, melody, lead,
  drums), the family the catalogue's augmentation and the separator were made with;
- ``gm-a`` and ``gm-b``: General-MIDI patterns played by fluidsynth with two different
  soundfonts, other patterns, programs and tempos (:mod:`bench.gm_beats`); never used to
  train or tune anything.

Each family is a pool of ``POOL_SIZE`` 30 s beats made once (GM renders are cached on
disk under ``$RAPSIM_BEAT_CACHE``, default ``/tmp/bench/beats``); a condition draws one
beat of the pool and a start offset from its ``rng``, and mixes it under the voice at an
SNR drawn from ``SNR_RANGE_DB`` (active speech over beat power, as ``bench.conditions``).
``beat_only`` gives the beats alone, for the "no voice" refusals.

Not here: scoring, choosing clips, anything the product runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.conditions import Condition, _check, _mix_at_snr
from inference.constants import SAMPLE_RATE

__all__ = [
    "FAMILIES",
    "MUSIC_CONDITIONS",
    "PoolBeat",
    "add_music",
    "beat_only",
    "beat_pool",
    "mix_music",
]

FAMILIES = ("numpy", "gm-a", "gm-b")
POOL_SIZE = 12  # beats per family: styles, keys and part mixes vary across them
POOL_SECONDS = 30.0
POOL_SEED = 1234  # the pools' seed: fixed, so every benchmark run hears the same beats
SNR_RANGE_DB = (0.0, 5.0)  # members rap 0-5 dB above the beat (issue 17)
CACHE_ENV = "RAPSIM_BEAT_CACHE"


@dataclass(frozen=True)
class PoolBeat:
    audio: np.ndarray  # float32, 16 kHz
    bpm: float
    parts: tuple[str, ...]


def _cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, "/tmp/bench/beats"))


@cache
def beat_pool(family: str, full_mix: bool = True) -> tuple[PoolBeat, ...]:
    """The family's beats, float32 16 kHz, ``POOL_SECONDS`` long. ``full_mix``: only
    beats with drums and pitched parts (a query over a beat); False: the family's own
    mix of full beats, chords + melody only and drums only (refusal tests)."""
    if family == "numpy":
        from inference.audio.beats import make_beat, random_beat

        rng = np.random.default_rng(POOL_SEED)
        if full_mix:
            styles = ("boombap", "trap", "lofi")
            beats = [
                make_beat(styles[i % 3], seconds=POOL_SECONDS, rng=rng) for i in range(POOL_SIZE)
            ]
        else:
            beats = [random_beat(rng, POOL_SECONDS) for _ in range(POOL_SIZE)]
        return tuple(_pooled(b) for b in beats)
    if family not in FAMILIES:
        raise ValueError(f"unknown beat family {family!r}: one of {', '.join(FAMILIES)}")
    from bench.gm_beats import family_beats

    drawn = family_beats(
        family, 2 * POOL_SIZE, POOL_SECONDS, seed=POOL_SEED, cache_dir=_cache_dir() / family
    )
    if full_mix:
        drawn = [b for b in drawn if "drums" in b.parts and len(b.parts) > 1]
    return tuple(_pooled(b) for b in drawn[:POOL_SIZE])


def _pooled(beat: Any) -> PoolBeat:
    return PoolBeat(np.asarray(beat.audio, dtype=np.float32), float(beat.bpm), tuple(beat.parts))


def _segment(beat: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples of ``beat`` from a random start, looped when the beat is shorter."""
    start = int(rng.integers(0, beat.size))
    reps = -(-(start + n) // beat.size)
    return np.tile(beat, reps)[start : start + n]


def add_music(
    wav: np.ndarray,
    rng: np.random.Generator,
    family: str,
    snr_db: float | None = None,
) -> np.ndarray:
    """The voice over a beat of ``family`` at ``snr_db`` (drawn from ``SNR_RANGE_DB``)."""
    return mix_music(wav, rng, family, snr_db)[0]


def mix_music(
    wav: np.ndarray, rng: np.random.Generator, family: str, snr_db: float | None = None
) -> tuple[np.ndarray, PoolBeat]:
    """``add_music``, and the beat it drew (its tempo is the truth for tempo checks)."""
    x = _check(wav)
    pool = beat_pool(family)
    beat = pool[int(rng.integers(0, len(pool)))]
    snr = float(rng.uniform(*SNR_RANGE_DB)) if snr_db is None else snr_db
    return _mix_at_snr(x, _segment(beat.audio, x.size, rng), snr), beat


def beat_only(family: str, seconds: float = 20.0) -> list[np.ndarray]:
    """Every beat of the family's mixed pool (full, chords + melody only, drums only),
    cut to ``seconds``: a member who sends the instrumental without rapping."""
    n = int(seconds * SAMPLE_RATE)
    return [b.audio[:n].copy() for b in beat_pool(family, full_mix=False)]


def _short_music(wav: np.ndarray, rng: np.random.Generator, family: str) -> np.ndarray:
    """The query's first 5 s over a beat of ``family``."""
    return add_music(wav[: int(5.0 * SAMPLE_RATE)], rng, family=family)


MUSIC_CONDITIONS: dict[str, Condition] = {
    **{f"music_{family}": partial(add_music, family=family) for family in FAMILIES},
    **{f"short_5s_{family}": partial(_short_music, family=family) for family in FAMILIES},
}
