"""Where the syllables start: vowel onsets of a voice, and onsets of a beat.

:func:`syllable_onsets` finds syllable nuclei as peaks of the vowel-band (250-1500 Hz)
energy of the voice, on a 2 ms grid, and dates each by its vowel onset: the steepest rise
of the envelope in the ``ONSET_SEARCH_SECONDS`` before the peak (where the vowel's energy
arrives; the peak itself lags it by 20-80 ms depending on the vowel). :func:`beat_envelope`
is the onset strength of an accompaniment (whole band, 10 ms frames) for the beat grid.

It only measures times; placing them on a grid is ``grid`` and ``metrics``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.signal

from ..constants import SAMPLE_RATE, VAD_FRAME_SAMPLES

ENVELOPE_STEP = 32  # samples: a 2 ms grid for the syllable envelope
STEP_SECONDS = ENVELOPE_STEP / SAMPLE_RATE
SPEECH_BAND_HZ = (250.0, 1500.0)  # vowels (F1, low F2); plosive bursts and hiss lie above
SMOOTH_SECONDS = 0.015  # the envelope's smoothing (a syllable's rise takes 10-30 ms)
MIN_GAP_SECONDS = 0.08  # no faster than ~12 syllables per second
PROMINENCE_DB = 4.0  # the dip between two nuclei must be at least this deep
RANGE_DB = 25.0  # nuclei further below the loud part of the voice are not syllables
ONSET_SEARCH_SECONDS = 0.12  # the vowel's rise is looked for this far before its peak

BEAT_HOP = 160  # 10 ms frames for the beat's onset strength
_EPS = 1e-10


@lru_cache(maxsize=1)
def _band() -> np.ndarray:
    return scipy.signal.butter(4, SPEECH_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")


@lru_cache(maxsize=1)
def _smoother() -> np.ndarray:
    return scipy.signal.butter(2, 1.0 / SMOOTH_SECONDS / 2, fs=SAMPLE_RATE, output="sos")


def speech_envelope(voice: np.ndarray) -> np.ndarray:
    """dB of the voice's speech-band power on the ``STEP_SECONDS`` grid (zero-phase, so
    times are not delayed by the filters)."""
    band = scipy.signal.sosfiltfilt(_band(), voice.astype(np.float64))
    power = scipy.signal.sosfiltfilt(_smoother(), band * band)
    n = power.size // ENVELOPE_STEP
    power = power[: n * ENVELOPE_STEP].reshape(n, ENVELOPE_STEP).mean(axis=1)
    return 10.0 * np.log10(np.maximum(power, 0.0) + _EPS)


def syllable_onsets(voice: np.ndarray, speech: np.ndarray | None = None) -> np.ndarray:
    """Onset times (seconds, ascending) of the syllables of a voice.

    voice: float32 16 kHz mono (the isolated voice over a beat, else the note).
    speech: bool per VAD frame (30 ms), True where voice; nuclei outside it are dropped.
    """
    env = speech_envelope(voice)
    if env.size < 3:
        return np.zeros(0)
    voiced = _voiced_steps(speech, env.size)
    if not voiced.any():
        return np.zeros(0)
    floor = np.percentile(env[voiced], 95) - RANGE_DB
    peaks, _ = scipy.signal.find_peaks(
        env,
        height=floor,
        prominence=PROMINENCE_DB,
        distance=max(1, round(MIN_GAP_SECONDS / STEP_SECONDS)),
    )
    peaks = peaks[voiced[peaks]]
    if peaks.size == 0:
        return np.zeros(0)
    slope = np.diff(env, prepend=env[0])
    reach = round(ONSET_SEARCH_SECONDS / STEP_SECONDS)
    onsets = []
    previous = 0
    for p in peaks:
        lo = max(previous, p - reach)
        # start after the valley before this peak, so a rise of the previous one is not taken
        if p - lo > 1:
            lo += int(np.argmin(env[lo:p]))
        seg = slope[lo : p + 1]
        k = lo + int(np.argmax(seg))
        onsets.append(_refine(slope, k) * STEP_SECONDS)
        previous = p
    return np.asarray(onsets)


def _refine(slope: np.ndarray, k: int) -> float:
    """Sub-step position of a slope maximum (parabola through its neighbours). The slope
    at step k is the rise from k-1 to k, centred half a step earlier."""
    if 0 < k < slope.size - 1:
        a, b, c = slope[k - 1], slope[k], slope[k + 1]
        den = a - 2 * b + c
        if den < 0:
            return k - 0.5 + float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return k - 0.5


def _voiced_steps(speech: np.ndarray | None, n: int) -> np.ndarray:
    if speech is None:
        return np.ones(n, dtype=bool)
    speech = np.asarray(speech, dtype=bool)
    idx = np.arange(n) * ENVELOPE_STEP // VAD_FRAME_SAMPLES
    inside = idx < speech.size
    return inside & speech[np.minimum(idx, max(speech.size - 1, 0))] if speech.size else ~inside


def beat_envelope(beat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Onset strength of an accompaniment on 10 ms frames: (all bands, below 150 Hz).

    The low-band envelope marks kicks and 808s, which say where a bar starts."""
    import librosa  # deferred: numba compiles on first use (warmed up per worker)

    stft = np.abs(librosa.stft(beat, n_fft=1024, hop_length=BEAT_HOP, center=True)) ** 2
    mel = _mel() @ stft
    db = librosa.power_to_db(mel, ref=1.0, amin=_EPS, top_db=80.0)
    flux = np.maximum(0.0, np.diff(db, axis=1, prepend=db[:, :1]))
    full = flux.mean(axis=0)
    low = flux[: _low_bands()].mean(axis=0)
    return full, low


@lru_cache(maxsize=1)
def _mel() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=1024, n_mels=40, fmin=30.0, fmax=8000.0)


@lru_cache(maxsize=1)
def _low_bands() -> int:
    import librosa

    centres = librosa.mel_frequencies(n_mels=42, fmin=30.0, fmax=8000.0)[1:-1]
    return max(1, int(np.count_nonzero(centres < 150.0)))
