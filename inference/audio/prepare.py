"""From decoded audio to what the models see: loudness, voice detection, the best window.

Steps: refuse too-short or silent input; when something plays under the voice, isolate
the voice from the beat (``isolate.listen``, with the separator) and find it there; else
find voice with webrtcvad, confirmed by a pitch periodicity check above 250 Hz (webrtcvad
alone fires on drums and noise); keep the most voiced ``ANALYSIS_WINDOW_SECONDS`` window;
normalise the voiced level; optionally suppress drums (HPSS); cut the silence out for the
encoder.

It does not decode (``inference.audio``) and does not measure style (``inference.style``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.signal
import webrtcvad

from ..constants import (
    ANALYSIS_WINDOW_SAMPLES,
    MIN_INPUT_SECONDS,
    MIN_VOICED_SECONDS,
    PEAK_LIMIT,
    SAMPLE_RATE,
    TARGET_RMS_DBFS,
    VAD_AGGRESSIVENESS,
    VAD_FRAME_SAMPLES,
)
from ..errors import AudioTooShortError, NoVoiceError
from .isolate import Isolated, listen
from .separate import VoiceSeparator

log = logging.getLogger(__name__)

SILENCE_PEAK = 1e-3  # a recording whose peak stays below this (-60 dBFS) is silence
PERIODIC_THRESHOLD = 0.45  # normalised autocorrelation peak that counts as pitched
F0_MIN_HZ, F0_MAX_HZ = 70.0, 400.0
HANGOVER_FRAMES = 4  # 120 ms: consonants next to a pitched vowel, and short gaps, stay voice
MIN_PERIODIC_SHARE = 0.2  # of VAD speech frames: below this it is drums or noise, not voice
# A pitched frame is voice only if its harmonics reach above the 250 Hz high-pass: a kick
# drum's decaying sine is periodic too, but keeps all but ~-50 dB of its energy below
# 250 Hz, where voiced speech keeps -1..-12 dB above it (-25 dB leaves room for a loud
# beat under the voice).
MIN_VOICE_BAND_DB = -25.0


@dataclass(frozen=True)
class PreparedAudio:
    """The analysed window and the voice cut from it."""

    window: np.ndarray = field(repr=False)  # float32, normalised, <= 30 s at 16 kHz
    speech_mask: np.ndarray = field(repr=False)  # bool per VAD frame of the window
    voiced: np.ndarray = field(repr=False)  # float32, the window's speech with silence cut
    gain_db: float  # total gain applied to the input to reach the target level, dB
    window_start_seconds: float  # where the window starts in the decoded input
    # the accompaniment of the window (same gain) when a beat played under the voice;
    # ``window`` is then the isolated voice
    beat: np.ndarray | None = field(default=None, repr=False)
    beat_db: float | None = None  # the beat's level over the voice's, when one played

    @property
    def voiced_seconds(self) -> float:
        return self.voiced.size / SAMPLE_RATE


def prepare(
    wav: np.ndarray, *, suppress_beat: bool = False, separator: VoiceSeparator | None = None
) -> PreparedAudio:
    """Turn 16 kHz mono audio into the analysis window and its voiced part.

    With a ``separator``, a note with a beat under the voice is analysed on the isolated
    voice (and a beat alone refused); without one, as a clean take. Raises
    AudioTooShortError (under MIN_INPUT_SECONDS) and NoVoiceError (silence, noise, a beat
    alone: less than MIN_VOICED_SECONDS of voice; BeatWithoutVoiceError for a beat).
    """
    seconds = wav.size / SAMPLE_RATE
    if seconds < MIN_INPUT_SECONDS:
        raise AudioTooShortError(
            f"the recording is only {seconds:.1f} s long; send at least a few seconds of rapping"
        )
    if float(np.max(np.abs(wav))) < SILENCE_PEAK:
        raise NoVoiceError("the recording is silent")
    first_gain = _target_gain_db(_active_rms(wav))
    wav = _limit(wav * np.float32(10 ** (first_gain / 20)))
    isolated = listen(wav, separator) if separator is not None else None
    if isolated is not None:
        return _prepare_isolated(isolated, first_gain)
    mask = voice_mask(wav)
    start, stop = best_window(mask, ANALYSIS_WINDOW_SAMPLES // VAD_FRAME_SAMPLES)
    window = wav[start * VAD_FRAME_SAMPLES : stop * VAD_FRAME_SAMPLES]
    mask = mask[start:stop]
    speech = _frames(window)[mask[: window.size // VAD_FRAME_SAMPLES]]
    gain = _target_gain_db(_rms(speech.ravel()))
    window = _limit(window * np.float32(10 ** (gain / 20)))
    source = suppress_percussion(window) if suppress_beat else window
    voiced = cut_silence(source, mask)
    if voiced.size < MIN_VOICED_SECONDS * SAMPLE_RATE:
        raise NoVoiceError(
            f"only {voiced.size / SAMPLE_RATE:.1f} s of voice found; rap closer to the mic "
            "for at least a few seconds"
        )
    return PreparedAudio(
        window, mask, voiced, first_gain + gain, start * VAD_FRAME_SAMPLES / SAMPLE_RATE
    )


def _prepare_isolated(isolated: Isolated, first_gain: float) -> PreparedAudio:
    """``prepare`` for a note over a beat: the window, level and cut on the isolated voice;
    the beat's window kept beside it (for its tempo)."""
    mask = _close_gaps(isolated.speech, HANGOVER_FRAMES)
    start, stop = best_window(mask, ANALYSIS_WINDOW_SAMPLES // VAD_FRAME_SAMPLES)
    cut = slice(start * VAD_FRAME_SAMPLES, stop * VAD_FRAME_SAMPLES)
    voice, beat, mask = isolated.voice[cut], isolated.beat[cut], mask[start:stop]
    speech = _frames(voice)[mask[: voice.size // VAD_FRAME_SAMPLES]]
    gain = np.float32(10 ** (_target_gain_db(_rms(speech.ravel())) / 20))
    window = _limit(voice * gain)
    voiced = cut_silence(window, mask)
    if voiced.size < MIN_VOICED_SECONDS * SAMPLE_RATE:
        raise NoVoiceError(
            f"only {voiced.size / SAMPLE_RATE:.1f} s of voice found over the beat; rap "
            "louder than the beat for at least a few seconds"
        )
    total_gain = first_gain + 20 * float(np.log10(gain))
    start_s = start * VAD_FRAME_SAMPLES / SAMPLE_RATE
    return PreparedAudio(
        window,
        mask,
        voiced,
        total_gain,
        start_s,
        (beat * gain).astype(np.float32),
        isolated.beat_db,
    )


def _frames(wav: np.ndarray) -> np.ndarray:
    n = wav.size // VAD_FRAME_SAMPLES
    return wav[: n * VAD_FRAME_SAMPLES].reshape(n, VAD_FRAME_SAMPLES)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _active_rms(wav: np.ndarray) -> float:
    """RMS over the loudest frames (within 30 dB of the 95th percentile): a level estimate
    that long silences do not drag down."""
    e = np.mean(np.square(_frames(wav), dtype=np.float64), axis=1) + 1e-12
    db = 10 * np.log10(e)
    return float(np.sqrt(np.mean(e[db > np.percentile(db, 95) - 30])))


def _target_gain_db(rms: float) -> float:
    return TARGET_RMS_DBFS - 20 * np.log10(max(rms, 1e-6))


def _limit(wav: np.ndarray) -> np.ndarray:
    """Soft-limit peaks above PEAK_LIMIT (tanh knee) so gain never creates hard clipping."""
    over = np.abs(wav) > PEAK_LIMIT * 0.9
    if not over.any():
        return wav.astype(np.float32, copy=False)
    knee = PEAK_LIMIT * 0.9
    out = wav.copy()
    excess = np.abs(wav[over]) - knee
    out[over] = np.sign(wav[over]) * (
        knee + (PEAK_LIMIT - knee) * np.tanh(excess / (PEAK_LIMIT - knee))
    )
    return out.astype(np.float32, copy=False)


@lru_cache(maxsize=1)
def _highpass() -> np.ndarray:
    # Above 250 Hz kick drums and bass lines are gone, voice harmonics remain.
    return scipy.signal.butter(4, 250.0, btype="highpass", fs=SAMPLE_RATE, output="sos")


def periodicity(wav: np.ndarray) -> np.ndarray:
    """Per VAD frame, the normalised autocorrelation peak at voice pitch lags (0..1).

    Frames more than 30 dB below the loud ones score 0: a decaying drum tail is quiet
    and can look periodic, voice is not quiet. So do frames whose energy lies almost all
    below 250 Hz (``MIN_VOICE_BAND_DB``): a kick drum's sine is periodic, but not voice."""
    frames = _frames(scipy.signal.sosfilt(_highpass(), wav).astype(np.float32))
    energy_db = 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-12)
    full_db = 10 * np.log10(np.mean(np.square(_frames(wav), dtype=np.float64), axis=1) + 1e-12)
    quiet = energy_db < np.percentile(energy_db, 95) - 30
    quiet |= energy_db - full_db < MIN_VOICE_BAND_DB  # a kick drum: all its energy is low
    n = VAD_FRAME_SAMPLES
    spec = np.fft.rfft(frames * np.hanning(n).astype(np.float32), n=2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    lo, hi = int(SAMPLE_RATE / F0_MAX_HZ), int(SAMPLE_RATE / F0_MIN_HZ)
    # undo the window's and the finite frame's bias toward short lags
    ref = np.fft.irfft(np.abs(np.fft.rfft(np.hanning(n), n=2 * n)) ** 2)[:n]
    norm = ac[:, lo:hi] / np.maximum(ac[:, :1], 1e-12) / (ref[lo:hi] / ref[0])
    return np.where(quiet, 0.0, np.clip(norm.max(axis=1), 0.0, 1.0))


def voice_mask(wav: np.ndarray) -> np.ndarray:
    """bool per VAD frame: webrtcvad speech, smoothed; empty of voice -> NoVoiceError."""
    vad = webrtcvad.Vad(VAD_AGGRESSIVENESS)
    pcm = (np.clip(_frames(wav), -1, 1) * 32767).astype("<i2")
    speech = np.fromiter(
        (vad.is_speech(f.tobytes(), SAMPLE_RATE) for f in pcm), dtype=bool, count=len(pcm)
    )
    pitched = periodicity(wav) >= PERIODIC_THRESHOLD
    voiced = speech & pitched
    if voiced.sum() * VAD_FRAME_SAMPLES < MIN_VOICED_SECONDS * SAMPLE_RATE or (
        voiced.sum() < MIN_PERIODIC_SHARE * max(speech.sum(), 1)
    ):
        raise NoVoiceError(
            "no rapping voice found (only silence, noise or a beat); rap closer to the mic"
        )
    return _close_gaps(speech & _dilate(voiced, HANGOVER_FRAMES), HANGOVER_FRAMES)


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    return np.convolve(mask.astype(np.int32), np.ones(2 * k + 1, np.int32), "same") > 0


def _close_gaps(mask: np.ndarray, k: int) -> np.ndarray:
    """Fill False runs shorter than k frames that sit between True frames."""
    out = mask.copy()
    idx = np.flatnonzero(mask)
    if idx.size < 2:
        return out
    gaps = np.diff(idx)
    for i in np.flatnonzero((gaps > 1) & (gaps <= k)):
        out[idx[i] : idx[i + 1]] = True
    return out


def best_window(mask: np.ndarray, width: int) -> tuple[int, int]:
    """[start, stop) in frames of the ``width``-frame window holding the most voice."""
    if mask.size <= width:
        return 0, mask.size
    sums = np.convolve(mask.astype(np.int32), np.ones(width, np.int32), "valid")
    start = int(np.argmax(sums))
    return start, start + width


def cut_silence(wav: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The frames marked True, joined (float32)."""
    frames = _frames(wav)
    return np.ascontiguousarray(frames[mask[: len(frames)]].ravel(), dtype=np.float32)


def suppress_percussion(wav: np.ndarray) -> np.ndarray:
    """Harmonic part of a harmonic/percussive separation (librosa, median filtering):
    drums are broadband and short, voice is mostly harmonic."""
    import librosa  # deferred: only used when beat suppression is on

    stft = librosa.stft(wav, n_fft=1024, hop_length=256)
    harmonic, _ = librosa.decompose.hpss(stft, margin=2.0)
    return librosa.istft(harmonic, hop_length=256, length=wav.size).astype(np.float32)
