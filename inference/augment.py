"""Gallery augmentation: extra versions of each catalogue clip, made when it is built.

A member who sounds like an artist rarely sounds exactly like the studio take: a little
higher or lower, faster or slower, in a room with a phone. Each catalogue window is
therefore also embedded pitch-shifted (±1.5 semitones), tempo-changed (×0.85, ×1.15),
through a synthetic room and phone band, and with white noise (15-25 dB SNR). Queries
pay nothing for this; the catalogue holds ``1 + len(VARIANTS)`` vectors per window, and
LDA (``inference.matching``) is fitted on all of them, so it learns to ignore these
changes.

The settings deliberately differ from the benchmark's query conditions (±2 semitones,
±10 % tempo, its own room/phone chain): the benchmark measures generalisation, not
recall of the same transforms. Only used at build time; nothing here runs on a request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import scipy.signal

from .constants import SAMPLE_RATE

Variant = Callable[[np.ndarray, np.random.Generator], np.ndarray]

ROOM_RT60_SECONDS = (0.2, 0.5)  # reverberation time drawn per clip
ROOM_BAND_HZ = (200.0, 4000.0)
ROOM_DRR_DB = (0.0, 6.0)  # direct-to-reverberant energy ratio drawn per clip
NOISE_SNR_DB = (15.0, 25.0)


def _level_like(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    gain = np.sqrt(np.mean(ref**2) / max(float(np.mean(out**2)), 1e-12))
    out = out * min(gain, 10.0)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return (out / peak * 0.99 if peak > 0.99 else out).astype(np.float32)


def pitch(semitones: float) -> Variant:
    def shift(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import librosa

        return _level_like(librosa.effects.pitch_shift(wav, sr=SAMPLE_RATE, n_steps=semitones), wav)

    return shift


def tempo(rate: float) -> Variant:
    def stretch(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import librosa

        return _level_like(librosa.effects.time_stretch(wav, rate=rate), wav)

    return stretch


@lru_cache(maxsize=1)
def _band() -> np.ndarray:
    return scipy.signal.butter(4, ROOM_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")


def room(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room and a phone band: a direct path, then exponentially decaying noise
    (-60 dB at the drawn RT60) at a direct-to-reverberant ratio drawn from ROOM_DRR_DB."""
    rt60 = rng.uniform(*ROOM_RT60_SECONDS)
    n = int(1.2 * rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail *= np.sqrt(10 ** (-rng.uniform(*ROOM_DRR_DB) / 10) / np.sum(tail**2))
    tail[0] = 1.0  # the direct path, energy 1
    wet = scipy.signal.fftconvolve(wav, tail)[: wav.size]
    return _level_like(scipy.signal.sosfilt(_band(), wet), wav)


def noise(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White noise at an SNR drawn from NOISE_SNR_DB (over the clip's mean power)."""
    snr = rng.uniform(*NOISE_SNR_DB)
    power = float(np.mean(wav**2)) / 10 ** (snr / 10)
    return _level_like(wav + np.sqrt(power) * rng.standard_normal(wav.size), wav)


VARIANTS: dict[str, Variant] = {
    "pitch-1.5": pitch(-1.5),
    "pitch+1.5": pitch(1.5),
    "tempo0.85": tempo(0.85),
    "tempo1.15": tempo(1.15),
    "room": room,
    "noise": noise,
}
