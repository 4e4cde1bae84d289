"""Gallery augmentation variants: they change what they say they change, and only that."""

from __future__ import annotations

import numpy as np
import pytest

from inference.build.augment import VARIANTS, pitch, room, tempo

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


# ---- channel variants (a phone note vs a studio take) ---------------------------------
def _band_energy(wav: np.ndarray, low: float, high: float) -> float:
    spec = np.abs(np.fft.rfft(wav)) ** 2
    freqs = np.fft.rfftfreq(wav.size, 1 / SR)
    return float(spec[(freqs >= low) & (freqs < high)].sum())


def _noise(seconds: float = 2.0) -> np.ndarray:
    return (np.random.default_rng(5).standard_normal(int(seconds * SR)) * 0.1).astype(np.float32)


def test_channel_sets_extend_the_gallery_set():
    from inference.build.augment import AUGMENT_SETS, CHANNEL_VARIANTS

    assert AUGMENT_SETS["none"] == {} and AUGMENT_SETS["gallery"] is VARIANTS
    assert list(AUGMENT_SETS["channel"]) == [*VARIANTS, *CHANNEL_VARIANTS]


@pytest.mark.parametrize("name", ["band", "reverb", "opus", "beat", "phone"])
def test_channel_variant_is_same_length_finite_and_deterministic(name: str) -> None:
    from inference.build.augment import CHANNEL_VARIANTS

    wav = _noise()
    a = CHANNEL_VARIANTS[name](wav, np.random.default_rng(3))
    b = CHANNEL_VARIANTS[name](wav, np.random.default_rng(3))
    assert a.dtype == np.float32 and a.shape == wav.shape and np.isfinite(a).all()
    assert np.abs(a).max() <= 1.0
    assert not np.allclose(a, wav, atol=1e-3)  # it changed something
    if name != "opus":  # libopus is deterministic too, but not promised across versions
        np.testing.assert_array_equal(a, b)


def test_band_and_phone_cut_high_frequencies():
    from inference.build.augment import band, phone

    wav = _noise()
    for f in (band, phone):
        out = f(wav, np.random.default_rng(0))
        assert _band_energy(out, 6500, 8000) < 0.01 * _band_energy(out, 500, 2500), f.__name__


def test_opus_round_trip_keeps_a_tone():
    from inference.build.augment import opus_round_trip

    t = np.arange(SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = opus_round_trip(tone, 12)
    assert out.shape == tone.shape
    assert _band_energy(out, 400, 480) > 0.9 * _band_energy(out, 0, 8000)


def test_beat_adds_a_periodic_drum_at_the_drawn_level():
    from inference.build.augment import BEAT_SNR_DB, beat

    voice = _buzz(4.0)
    out = beat(voice, np.random.default_rng(1))
    added = out - voice
    snr = 10 * np.log10(np.mean(voice.astype(np.float64) ** 2) / np.mean(added**2))
    assert BEAT_SNR_DB[0] - 0.5 <= snr <= BEAT_SNR_DB[1] + 0.5
    env = np.abs(added).reshape(-1, 160).mean(axis=1)
    assert env.max() > 3 * np.median(env)  # hits, not a steady noise
