"""Style features on short audio the tests make: tones, clicks, noise, espeak-ng speech."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from inference.constants import SAMPLE_RATE, VAD_FRAME_SAMPLES
from inference.style.features import compute_style, describe
from inference.types import StyleProfile

SR = SAMPLE_RATE
RNG_SEED = 1234


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _tone(hz: float, seconds: float, amp: float = 0.3) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * hz * _t(seconds))).astype(np.float32)


def _noise(seconds: float, amp: float = 0.1, seed: int = RNG_SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amp * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def _bursts(per_second: float, seconds: float, burst_seconds: float = 0.15) -> np.ndarray:
    """Hann-shaped noise bursts, like syllables: per_second of them."""
    envelope = np.zeros(int(seconds * SR))
    width = int(burst_seconds * SR)
    for start in range(0, envelope.size - width, int(SR / per_second)):
        envelope[start : start + width] = np.hanning(width)
    return (_noise(seconds, amp=0.3) * envelope).astype(np.float32)


def _mask(n_samples: int, voiced_seconds: float) -> np.ndarray:
    """A speech mask, True for the first voiced_seconds."""
    n_frames = n_samples // VAD_FRAME_SAMPLES
    mask = np.zeros(n_frames, dtype=bool)
    mask[: int(voiced_seconds * SR) // VAD_FRAME_SAMPLES] = True
    return mask


def test_pure_tone_pitch() -> None:
    style = compute_style(_tone(220.0, 3.0))
    assert style.pitch_median_hz == pytest.approx(220.0, rel=0.03)
    assert style.pitch_range_semitones < 0.5


def test_alternating_tones_pitch_range() -> None:
    t = _t(4.0)
    hz = np.where((t * 4).astype(int) % 2 == 0, 200.0, 300.0)  # a fifth: 7.02 semitones
    wav = (0.3 * np.sin(2 * np.pi * np.cumsum(hz) / SR)).astype(np.float32)
    style = compute_style(wav)
    assert style.pitch_range_semitones == pytest.approx(12 * math.log2(300 / 200), abs=1.0)
    assert 190.0 < style.pitch_median_hz < 310.0


def test_pitch_uses_speech_mask_only() -> None:
    wav = np.concatenate([_tone(220.0, 2.0), _tone(110.0, 2.0)])
    style = compute_style(wav, speech_mask=_mask(wav.size, 2.0))
    assert style.pitch_median_hz == pytest.approx(220.0, rel=0.03)


def test_noise_has_no_pitch() -> None:
    style = compute_style(_noise(3.0))
    assert math.isnan(style.pitch_median_hz)
    assert math.isnan(style.pitch_range_semitones)


def test_click_train_tempo() -> None:
    wav = np.zeros(8 * SR, dtype=np.float32)
    wav[:: SR // 2] = 0.9  # a click every 0.5 s: 120 BPM
    assert compute_style(wav).tempo_bpm == pytest.approx(120.0, rel=0.05)


def test_bursts_syllable_rate() -> None:
    style = compute_style(_bursts(4.0, 6.0))
    assert style.syllable_rate == pytest.approx(4.0, abs=0.8)
    assert style.pause_ratio < 0.1  # 100 ms gaps between syllables are not pauses


def test_syllable_rate_counts_voiced_time_only() -> None:
    wav = np.concatenate([_bursts(4.0, 4.0), _bursts(8.0, 4.0)])
    style = compute_style(wav, speech_mask=_mask(wav.size, 4.0))
    assert style.syllable_rate == pytest.approx(4.0, abs=0.8)


def test_half_silence_pause_ratio() -> None:
    wav = np.concatenate([_noise(2.0), np.zeros(2 * SR, dtype=np.float32)])
    assert compute_style(wav).pause_ratio == pytest.approx(0.5, abs=0.05)
    masked = compute_style(wav, speech_mask=_mask(wav.size, 1.0))
    assert masked.pause_ratio == pytest.approx(0.75, abs=0.05)


def test_brightness_high_vs_low_passed_noise() -> None:
    noise = _noise(3.0, amp=0.3)
    high = sosfilt(butter(6, 3000, "highpass", fs=SR, output="sos"), noise).astype(np.float32)
    low = sosfilt(butter(6, 500, "lowpass", fs=SR, output="sos"), noise).astype(np.float32)
    bright, dark = compute_style(high).brightness_hz, compute_style(low).brightness_hz
    assert bright > 3000.0
    assert dark < 1000.0


def test_energy_level_gain_and_dynamics() -> None:
    tone = _tone(220.0, 3.0, amp=0.3)  # RMS 0.212: -13.5 dBFS
    loud = compute_style(tone)
    assert loud.energy_db == pytest.approx(20 * math.log10(0.3 / math.sqrt(2)), abs=0.5)
    assert loud.energy_dynamics_db < 1.0
    quiet = compute_style(tone * np.float32(10 ** (-12 / 20)))
    assert loud.energy_db - quiet.energy_db == pytest.approx(12.0, abs=0.3)
    normalised = compute_style(tone, gain_db=6.0)
    assert normalised.energy_db == pytest.approx(loud.energy_db - 6.0, abs=1e-6)


def test_dynamics_wider_for_varying_level() -> None:
    steady = compute_style(_noise(4.0))
    ramp = np.linspace(1.0, 0.1, 4 * SR, dtype=np.float32)  # 20 dB fade
    assert compute_style(_noise(4.0) * ramp).energy_dynamics_db > steady.energy_dynamics_db + 10


def _espeak(tmp_path: Path, rate: int, text: str) -> np.ndarray:
    import librosa
    import soundfile as sf

    path = tmp_path / f"speech_{rate}.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "-s", str(rate), text], check=True)
    wav, sr = sf.read(path, dtype="float32")
    return librosa.resample(wav, orig_sr=sr, target_sr=SR).astype(np.float32)


def test_espeak_syllable_rate_tracks_speaking_rate(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    text = (
        "I got money on my mind and a rhyme in my pocket, when the beat drops low I never stop it"
    )
    slow = compute_style(_espeak(tmp_path, 100, text))
    fast = compute_style(_espeak(tmp_path, 260, text))
    assert 2.0 < slow.syllable_rate < 4.5
    assert 5.0 < fast.syllable_rate < 9.0
    assert fast.syllable_rate > 1.6 * slow.syllable_rate
    assert 70.0 < slow.pitch_median_hz < 200.0  # espeak's default voice, around 100 Hz


def test_silence_gives_nan_not_a_crash() -> None:
    style = compute_style(np.zeros(3 * SR, dtype=np.float32))
    assert style.pause_ratio == 1.0
    for name in StyleProfile.feature_names():
        if name != "pause_ratio":
            assert math.isnan(getattr(style, name)), name
    assert describe(style) == ("Pauses: 100%",)


def test_bad_input_is_refused() -> None:
    wav = _tone(220.0, 1.0)
    with pytest.raises(ValueError, match="16000"):
        compute_style(wav, sr=22050)
    with pytest.raises(ValueError, match="speech_mask"):
        compute_style(wav, speech_mask=np.ones(10, dtype=bool))
    with pytest.raises(ValueError, match="mono"):
        compute_style(np.zeros((2, SR), dtype=np.float32))
    with pytest.raises(ValueError, match="mono"):
        compute_style(np.zeros(100, dtype=np.float32))


def _profile(**values: float) -> StyleProfile:
    base = dict.fromkeys(StyleProfile.feature_names(), math.nan)
    return StyleProfile(**{**base, **values})


def _population(column: str, values: np.ndarray) -> np.ndarray:
    population = np.full((values.size, len(StyleProfile.feature_names())), np.nan)
    population[:, StyleProfile.feature_names().index(column)] = values
    return population


def test_describe_percentile_wording() -> None:
    population = _population("syllable_rate", np.arange(1.0, 11.0))
    (line,) = describe(_profile(syllable_rate=8.5), population)
    assert line == "Flow (syllable rate): 8.5 syll/s — faster than 80 % of the catalogue"
    (line,) = describe(_profile(syllable_rate=2.5), population)
    assert "slower than 80 % of the catalogue" in line
    (line,) = describe(_profile(syllable_rate=8.0), population)  # ties are not "below"
    assert line.endswith("faster than 70 % of the catalogue")


def test_describe_words_reference_and_nan() -> None:
    population = _population("pitch_median_hz", np.array([100.0, 120.0, np.nan, 140.0, 160.0]))
    profile = _profile(pitch_median_hz=150.0, pause_ratio=0.25)
    lines = describe(
        profile, population, reference=_profile(pitch_median_hz=110.0), reference_name="Kal"
    )
    assert len(lines) == 2  # nan features are skipped
    assert lines[0].startswith("Pitch: 150 Hz (D3) — higher than 75 % of the catalogue")
    assert lines[0].endswith("; Kal: 110 Hz (A2)")
    assert lines[1] == "Pauses: 25%"  # no finite catalogue values: the value alone


def test_describe_without_population() -> None:
    lines = describe(_profile(tempo_bpm=92.0, brightness_hz=1800.0))
    assert lines == ("Tempo: 92 BPM", "Brightness (tone): 1800 Hz")
    with pytest.raises(ValueError, match="population"):
        describe(_profile(tempo_bpm=92.0), np.zeros((3, 5)))


def test_over_a_beat_pitch_ignores_what_jumps_out_of_the_voice() -> None:
    """What a separator leaves of a melody comes as short blips away from the voice's
    glide (under ~60 ms: longer ones stay); over a beat they are left out of the pitch
    range, on a clean take they are not (a clean take is measured as before)."""
    from inference.style.features import _pitch

    sr = 16_000
    t = np.arange(4 * sr) / sr
    f0 = np.where((t % 0.25) < 0.19, 140.0, 330.0)  # 60 ms of a melody note every 250 ms
    phase = 2 * np.pi * np.cumsum(f0) / sr
    wav = sum(np.sin(k * phase) / k for k in range(1, 12)).astype(np.float32) * 0.2
    frames = wav.size // 160 + 1
    voiced, frame_db = np.ones(frames, dtype=bool), np.zeros(frames)
    _, plain = _pitch(wav, voiced, frame_db)
    _, over_beat = _pitch(wav, voiced, frame_db, continuous=True)
    assert plain > 10.0
    assert over_beat < 4.0  # frames that straddle a jump still read between the two
