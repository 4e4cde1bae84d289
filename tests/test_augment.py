"""Gallery augmentation variants: they change what they say they change, and only that."""

from __future__ import annotations

import numpy as np
import pytest

from inference.augment import VARIANTS, pitch, room, tempo

SR = 16000


def _buzz(seconds: float = 2.0, hz: float = 150.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sign(np.sin(2 * np.pi * hz * t))).astype(np.float32)


def _f0(wav: np.ndarray) -> float:
    import librosa

    return float(np.median(librosa.yin(wav, fmin=60, fmax=500, sr=SR)))


def test_every_variant_is_finite_float32_at_a_similar_level() -> None:
    wav = _buzz()
    rms = np.sqrt(np.mean(wav**2))
    for name, make in VARIANTS.items():
        out = make(wav, np.random.default_rng(0))
        assert out.dtype == np.float32 and out.ndim == 1 and np.isfinite(out).all(), name
        assert 0.5 < np.sqrt(np.mean(out**2)) / rms < 2.0, name
        assert np.abs(out).max() <= 1.0, name


@pytest.mark.parametrize("steps", [-1.5, 1.5])
def test_pitch_moves_f0_by_the_semitones(steps: float) -> None:
    wav = _buzz()
    ratio = _f0(pitch(steps)(wav, np.random.default_rng(0))) / _f0(wav)
    assert 12 * np.log2(ratio) == pytest.approx(steps, abs=0.3)


def test_tempo_changes_length_not_pitch() -> None:
    wav = _buzz()
    out = tempo(1.15)(wav, np.random.default_rng(0))
    assert out.size == pytest.approx(wav.size / 1.15, rel=0.02)
    assert _f0(out) == pytest.approx(_f0(wav), rel=0.03)


def test_room_is_band_limited_and_deterministic() -> None:
    rng_wav = np.random.default_rng(5).standard_normal(2 * SR).astype(np.float32) * 0.1
    a = room(rng_wav, np.random.default_rng(1))
    b = room(rng_wav, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    spec = np.abs(np.fft.rfft(a)) ** 2
    freqs = np.fft.rfftfreq(a.size, 1 / SR)
    assert spec[freqs > 6000].sum() < 0.02 * spec[(freqs > 500) & (freqs < 3000)].sum()
