"""The uint8 log-mel arrays that images are drawn from and profiles keep.

``mel_image`` turns 16 kHz audio into a small uint8 log-mel array on a fixed absolute
scale, so that any two stored arrays (a member's, an artist's) can be drawn side by side
with one colour scale; ``fit_frames`` pools one to a pixel width. This module draws
nothing.
"""

from __future__ import annotations

import functools

import librosa
import numpy as np
import scipy.fft
import scipy.sparse

from ..constants import IMAGE_DB_RANGE, IMAGE_FRAMES, IMAGE_HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE

__all__ = ["fit_frames", "mel_image"]


@functools.lru_cache(maxsize=1)
def _mel_setup() -> tuple[np.ndarray, scipy.sparse.csr_array, float]:
    """Window, mel filterbank (N_MELS, N_FFT//2+1) and the 0 dB reference power.

    Filters are unnormalised triangles (peak weight 1), so a pure tone at a band centre
    reads as the power of its FFT bin. The reference is the bin power of a full-scale
    sine under the Hann window, ``(sum(window) / 2) ** 2``: a 0 dBFS sine maps to about
    255 (tones between band centres read a few dB lower), and anything
    ``IMAGE_DB_RANGE`` dB below maps to 0.

    The filterbank is kept sparse (each FFT bin feeds at most two bands): a dense BLAS
    matmul of this size took ~30 ms on a busy 2-core machine (thread contention), the
    sparse product ~0.3 ms.
    """
    window = librosa.filters.get_window("hann", N_FFT, fftbins=True).astype(np.float32)
    basis = librosa.filters.mel(
        sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=SAMPLE_RATE / 2, norm=None
    ).astype(np.float32)
    ref_power = float(window.sum() / 2.0) ** 2
    return window, scipy.sparse.csr_array(basis), ref_power


def mel_image(wav: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Log-mel spectrogram of ``wav`` as uint8, shape (N_MELS, frames), low bands first.

    ``wav`` is mono audio in [-1, 1] (integer PCM is rescaled); other rates are resampled
    to SAMPLE_RATE. Frames are IMAGE_HOP_LENGTH apart (50 per second, centred); only the
    first IMAGE_FRAMES (30 s) are kept. Values are on a fixed absolute scale (see
    ``_mel_setup``): 255 is a full-scale sine, 0 is IMAGE_DB_RANGE dB below, or silence.
    """
    wav = np.asarray(wav)
    if wav.ndim != 1:
        raise ValueError(f"mel_image expects mono audio (1-D), got shape {wav.shape}")
    if np.issubdtype(wav.dtype, np.integer):
        wav = wav / float(np.iinfo(wav.dtype).max + 1)
    # Only the samples that reach the kept frames are resampled and transformed.
    wav = wav[: int(np.ceil(IMAGE_FRAMES * IMAGE_HOP_LENGTH * sr / SAMPLE_RATE))]
    wav = wav.astype(np.float32, copy=False)
    if sr != SAMPLE_RATE:
        wav = librosa.resample(wav, orig_sr=sr, target_sr=SAMPLE_RATE)
    if wav.size == 0:
        return np.zeros((N_MELS, 0), dtype=np.uint8)
    window, basis, ref_power = _mel_setup()
    padded = np.pad(wav[: IMAGE_FRAMES * IMAGE_HOP_LENGTH], N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::IMAGE_HOP_LENGTH]
    spectrum = scipy.fft.rfft(frames[:IMAGE_FRAMES] * window, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    db = 10.0 * np.log10(np.maximum(basis @ power.T, ref_power * 1e-12) / ref_power)
    scaled = (db + IMAGE_DB_RANGE) * (255.0 / IMAGE_DB_RANGE)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def fit_frames(mel: np.ndarray, width: int) -> np.ndarray:
    """Pad (with the floor, 0) or crop to IMAGE_FRAMES, then max-pool columns to ``width``.

    Max-pooling keeps short onsets visible where plain decimation would drop them.
    """
    mel = np.asarray(mel)
    if mel.ndim != 2 or mel.shape[0] != N_MELS:
        raise ValueError(f"expected a ({N_MELS}, frames) mel image, got shape {mel.shape}")
    if mel.dtype != np.uint8:
        mel = np.clip(np.nan_to_num(mel), 0, 255).astype(np.uint8)
    full = np.zeros((N_MELS, IMAGE_FRAMES), dtype=np.uint8)
    n = min(mel.shape[1], IMAGE_FRAMES)
    full[:, :n] = mel[:, :n]
    starts = (np.arange(width) * IMAGE_FRAMES) // width
    return np.maximum.reduceat(full, starts, axis=1)
