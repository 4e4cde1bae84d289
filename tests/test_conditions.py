"""Benchmark query degradations (bench/conditions.py) on short tones and a voice-like signal.

Properties with tolerances: shape, dtype and level of every condition, filter stop bands,
SNRs, pitch through the opus codec, determinism per seed. Opus tests skip without ffmpeg,
beat tests without the shared corpus generator (make_corpus.py).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from bench import conditions as cond

SR = 16_000
HAS_FFMPEG = shutil.which("ffmpeg") is not None
NEEDS_FFMPEG = {"phone", "low_bitrate"}
NEEDS_BEAT = {"loud_beat", "beat_5db"}
RANDOM = {"phone", "loud_beat", "beat_5db", "noise_10db"}
RATES = {"tempo+10": 1.1, "tempo-10": 0.9}
ADDED_SNR_DB = {"loud_beat": 0.0, "beat_5db": 5.0, "noise_10db": 10.0}

requires_ffmpeg = pytest.mark.skipif(not HAS_FFMPEG, reason="ffmpeg not installed")


def has_beat_synth() -> bool:
    try:
        cond._shared_corpus()
    except (FileNotFoundError, ImportError):
        return False
    return True


requires_beat = pytest.mark.skipif(not has_beat_synth(), reason="shared make_corpus.py missing")


def tone(freq: float, seconds: float = 1.0, amp: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def voice_like(seconds: float = 2.0) -> np.ndarray:
    """Harmonics of a gliding 140-180 Hz pitch, four syllables a second, pauses between."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 160 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    return (0.1 * x * envelope).astype(np.float32)


def db(ratio: float) -> float:
    return float(10 * np.log10(ratio))


def rms_db(x: np.ndarray) -> float:
    return db(float(np.mean(np.square(x, dtype=np.float64))))


def peak_hz(x: np.ndarray, pad: int = 4) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=pad * len(x)))
    return float(np.argmax(spec) * SR / (pad * len(x)))


def band_amp(x: np.ndarray, freq: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = round(freq * len(x) / SR)
    return float(spec[k - 3 : k + 4].max())


def skip_unavailable(name: str) -> None:
    if name in NEEDS_FFMPEG and not HAS_FFMPEG:
        pytest.skip("ffmpeg not installed")
    if name in NEEDS_BEAT and not has_beat_synth():
        pytest.skip("shared make_corpus.py missing")


@pytest.mark.parametrize("name", sorted(cond.CONDITIONS))
def test_condition_output(name: str) -> None:
    skip_unavailable(name)
    x = voice_like()
    y = cond.CONDITIONS[name](x, np.random.default_rng(0))
    assert y.dtype == np.float32 and y.ndim == 1
    assert np.all(np.isfinite(y))
    expected = round(len(x) / RATES.get(name, 1.0))
    assert abs(len(y) - expected) <= 1
    # the voice keeps its level; additive conditions add their own power on top
    added = cond.active_power(x) * 10 ** (-ADDED_SNR_DB[name] / 10) if name in ADDED_SNR_DB else 0
    expected_db = db(float(np.mean(np.square(x, dtype=np.float64))) + added)
    assert abs(rms_db(y) - expected_db) < 1.5
    assert np.max(np.abs(y)) <= 1.0


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_condition_deterministic(name: str) -> None:
    skip_unavailable(name)
    x = voice_like(1.0)
    fn = cond.CONDITIONS[name]
    a = fn(x, np.random.default_rng(7))
    b = fn(x, np.random.default_rng(7))
    c = fn(x, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_band_limit_stop_and_pass_bands() -> None:
    x = tone(100) + tone(1000) + tone(6000)
    y = cond.band_limit(x)
    assert db(band_amp(y, 100) / band_amp(y, 1000)) < -40.0
    assert db(band_amp(y, 6000) / band_amp(y, 1000)) < -40.0
    kept = cond.band_limit(tone(1000))
    assert abs(rms_db(kept) - rms_db(tone(1000))) < 0.5


@pytest.mark.parametrize("snr_db", [0.0, 10.0])
@pytest.mark.parametrize("colour", ["pink", "white"])
def test_add_noise_snr(snr_db: float, colour: str) -> None:
    x = tone(500)  # continuous: active-speech power is the mean power
    y = cond.add_noise(x, np.random.default_rng(1), snr_db, colour=colour)
    noise = y.astype(np.float64) - x
    assert abs(db(np.mean(x.astype(np.float64) ** 2) / np.mean(noise**2)) - snr_db) < 1.0


@requires_beat
@pytest.mark.parametrize("snr_db", [0.0, 5.0, 15.0])
def test_add_beat_snr(snr_db: float) -> None:
    x = voice_like(3.0)
    y = cond.add_beat(x, np.random.default_rng(2), snr_db, bpm=90.0)
    beat = y.astype(np.float64) - x
    measured = db(cond.active_power(x) / np.mean(beat**2))
    assert abs(measured - snr_db) < 1.0


@requires_ffmpeg
@pytest.mark.parametrize("bitrate", [8, 12])
def test_opus_roundtrip_keeps_pitch(bitrate: int) -> None:
    x = tone(440.0)
    y = cond.opus_roundtrip(x, bitrate_kbps=bitrate)
    assert len(y) == len(x)
    assert abs(peak_hz(y) - 440.0) < 3.0


def test_pitch_shift_moves_a_tone() -> None:
    y = cond.pitch_shift(tone(440.0), 2.0)
    assert abs(peak_hz(y) - 440.0 * 2 ** (2 / 12)) < 3.0


def test_time_stretch_keeps_pitch() -> None:
    y = cond.time_stretch(tone(440.0), 1.1)
    assert abs(len(y) - round(SR / 1.1)) <= 1
    assert abs(peak_hz(y) - 440.0) < 3.0


def test_room_impulse_response_decays() -> None:
    ir = cond.room_impulse_response(np.random.default_rng(3), rt60=0.5, drr_db=3.0)
    tail = ir[1:]
    assert abs(db(ir[0] ** 2 / np.sum(tail**2)) - 3.0) < 0.01
    early, late = np.mean(tail[: SR // 10] ** 2), np.mean(tail[int(0.4 * SR) : int(0.5 * SR)] ** 2)
    assert -60 < db(late / early) < -30  # about -48 dB between 0.05 s and 0.45 s for rt60 0.5 s
