"""Voice detection and the analysis window: what counts as a rapping voice."""

from __future__ import annotations

import numpy as np
import pytest

from inference import AudioTooShortError, NoVoiceError
from inference.audio.prepare import best_window, cut_silence, prepare
from inference.constants import ANALYSIS_WINDOW_SECONDS, SAMPLE_RATE, VAD_FRAME_SAMPLES
from tests.conftest import read16k

SR = SAMPLE_RATE


def drum_loop(seconds: float, bpm: float = 90.0, seed: int = 0) -> np.ndarray:
    """Kick (pitch-swept sine), snare (noise + 190 Hz), hi-hat (high-passed noise)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR), np.float32)
    t = np.arange(int(0.4 * SR)) / SR
    kick = np.sin(2 * np.pi * np.cumsum(48 + 95 * np.exp(-t * 32)) / SR) * np.exp(-t * 8)
    snare = rng.standard_normal(t.size) * np.exp(-t * 26) + 0.6 * np.sin(
        2 * np.pi * 190 * t
    ) * np.exp(-t * 35)
    hat = np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t * 75) * 0.3
    step = int(60 / bpm / 4 * SR)
    for k, start in enumerate(range(0, out.size - t.size, step)):
        s = k % 16
        if s in (0, 6, 10):
            out[start : start + t.size] += kick
        if s in (4, 12):
            out[start : start + t.size] += 0.8 * snare
        if s % 2 == 0:
            out[start : start + t.size] += 0.4 * hat
    return 0.3 * out / np.abs(out).max()


def kick_loop(seconds: float, bpm: float, hats: bool = True) -> np.ndarray:
    """Kicks (and hi-hats): the kick is a sine swept 143 -> 48 Hz, periodic like a voice,
    which webrtcvad calls speech (a loop like this once passed as 4-6 s of voice)."""
    rng = np.random.default_rng(int(bpm))
    out = np.zeros(int(seconds * SR) + SR, np.float32)
    t = np.arange(int(0.45 * SR)) / SR
    kick = np.sin(2 * np.pi * np.cumsum(48 + 95 * np.exp(-t * 32)) / SR) * np.exp(-t * 8.5)
    hat = np.diff(rng.standard_normal(1122), n=2) * np.exp(-t[:1120] * 75) * 0.35
    step = 60 / bpm / 4
    for k in range(int(seconds / step)):
        i = int(k * step * SR)
        if k % 16 in (0, 7, 8, 10):
            out[i : i + kick.size] += kick[: out.size - i]
        if hats and k % 2 == 0:
            out[i : i + hat.size] += 0.4 * hat[: out.size - i]
    out = out[: int(seconds * SR)]
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def mix(voice: np.ndarray, other: np.ndarray, snr_db: float) -> np.ndarray:
    other = np.resize(other, voice.size)
    gain = np.sqrt(np.mean(voice**2) / np.mean(other**2) / 10 ** (snr_db / 10))
    return (voice + gain * other).astype(np.float32)


def test_speech_is_kept(speech_wav) -> None:
    p = prepare(read16k(speech_wav))
    assert p.voiced_seconds > 5.0
    assert p.speech_mask.size == p.window.size // VAD_FRAME_SAMPLES
    rms_db = 20 * np.log10(np.sqrt(np.mean(p.voiced**2)))
    assert -27 < rms_db < -19  # normalised near TARGET_RMS_DBFS
    assert np.abs(p.window).max() <= 1.0


def test_speech_over_a_loud_beat_is_kept(speech_wav) -> None:
    voice = read16k(speech_wav)
    p = prepare(mix(voice, drum_loop(voice.size / SR), 0.0))
    assert p.voiced_seconds > 5.0


def test_quiet_speech_is_normalised(speech_wav) -> None:
    quiet = read16k(speech_wav) * 0.01  # -40 dB
    p = prepare(quiet)
    assert p.gain_db > 30
    assert -27 < 20 * np.log10(np.sqrt(np.mean(p.voiced**2))) < -19


@pytest.mark.parametrize(
    "make,err",
    [
        (lambda: np.zeros(30 * SR, np.float32), NoVoiceError),
        (
            lambda: (0.2 * np.random.default_rng(1).standard_normal(30 * SR)).astype(np.float32),
            NoVoiceError,
        ),
        (lambda: drum_loop(30.0), NoVoiceError),
        (lambda: drum_loop(30.0, bpm=140, seed=3), NoVoiceError),
    ],
    ids=["silence", "white-noise", "beat-90", "beat-140"],
)
def test_no_voice(make, err) -> None:
    with pytest.raises(err):
        prepare(make())


@pytest.mark.parametrize("bpm", [60, 70, 80, 90, 100, 140])
@pytest.mark.parametrize("hats", [False, True], ids=["kicks", "kicks+hats"])
def test_kick_drums_are_not_a_voice(bpm: int, hats: bool) -> None:
    with pytest.raises(NoVoiceError):
        prepare(kick_loop(12.0, bpm, hats))


def test_speech_over_kicks_is_kept(speech_wav) -> None:
    """The voice-band check drops kick frames, not the voice rapped over them."""
    voice = read16k(speech_wav)
    alone = prepare(voice).voiced_seconds
    p = prepare(mix(voice, kick_loop(voice.size / SR, 80, hats=False), 0.0))
    assert p.voiced_seconds > 0.8 * alone


def test_too_short(speech_wav) -> None:
    with pytest.raises(AudioTooShortError, match=r"0.5 s"):
        prepare(read16k(speech_wav)[: SR // 2])


def test_long_input_keeps_the_most_voiced_window(speech_wav) -> None:
    voice = read16k(speech_wav)
    silence = np.zeros(40 * SR, np.float32)
    wav = np.concatenate([silence, voice, voice, voice, voice, silence])
    p = prepare(wav)
    assert p.window.size <= ANALYSIS_WINDOW_SECONDS * SR
    assert 30 <= p.window_start_seconds <= 40 + voice.size / SR


def test_best_window_and_cut() -> None:
    mask = np.zeros(100, bool)
    mask[60:80] = True
    assert best_window(mask, 30) in {(s, s + 30) for s in range(50, 61)}
    wav = np.arange(100 * VAD_FRAME_SAMPLES, dtype=np.float32)
    cut = cut_silence(wav, mask)
    assert cut.size == 20 * VAD_FRAME_SAMPLES and cut[0] == 60 * VAD_FRAME_SAMPLES


def test_beat_suppression_keeps_voice(speech_wav) -> None:
    voice = read16k(speech_wav)
    p = prepare(mix(voice, drum_loop(voice.size / SR), 0.0), suppress_beat=True)
    assert p.voiced_seconds > 5.0 and np.isfinite(p.voiced).all()
