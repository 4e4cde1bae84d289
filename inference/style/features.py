"""Style profile: how someone raps (tempo, flow, pitch, energy, tone, pauses), in numbers.

:func:`compute_style` measures one analysed window (16 kHz mono, loudness-normalised) and
returns a :class:`~inference.types.StyleProfile`; :func:`describe` turns a profile into
one plain-language line per feature, placed against the catalogue when one is given.
:func:`warmup` JIT-compiles librosa's numba code; call it once at process start.

One STFT (``N_FFT``/``HOP_LENGTH``) is shared by tempo (:mod:`.tempo`), flow, energy and
brightness; pitch comes from YIN on 20 ms steps, kept only where the frame is voiced, loud
enough and clearly periodic. Pauses shorter than ``MIN_PAUSE_SECONDS`` (stop closures, breaths
between syllables) count as speaking time, as in articulation-rate measures.

This module does not decode, normalise, cut or voice-detect audio (the speech mask comes
from upstream; a crude energy mask is made only when none is given), and it says nothing
about who the voice sounds like.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import librosa
import numpy as np
import scipy.signal
import scipy.sparse
from scipy.signal import find_peaks

from ..constants import HOP_LENGTH, N_FFT, SAMPLE_RATE, VAD_FRAME_SAMPLES
from ..types import STYLE_DISPLAY, StyleProfile, format_style_value
from .tempo import beat_tempo, voice_tempo

__all__ = ["compute_style", "describe", "warmup"]

log = logging.getLogger(__name__)

FRAME_SECONDS = HOP_LENGTH / SAMPLE_RATE  # 10 ms: one STFT frame step
VAD_FRAME_SECONDS = VAD_FRAME_SAMPLES / SAMPLE_RATE  # 30 ms

# Voice when no mask is given: frames within this range of the loudest, above a floor
ENERGY_MASK_RANGE_DB = 35.0
ENERGY_MASK_FLOOR_DBFS = -60.0
MIN_PAUSE_SECONDS = 0.25  # silent gaps shorter than this are part of speaking, not pauses

# Pitch (YIN): C2..B4 covers rapping voices; 32 ms frames hold two periods at 65 Hz
FMIN_HZ = 65.0
FMAX_HZ = 500.0
PITCH_FRAME_SAMPLES = N_FFT
PITCH_HOP = 2 * HOP_LENGTH  # 20 ms: plenty for a median and a range, half YIN's cost
MIN_PERIODICITY = 0.5  # normalised autocorrelation at the YIN period; noise stays < ~0.3
PITCH_RANGE_DB = 30.0  # frames this far below the loud voiced frames give no pitch
MIN_PITCHED_FRAMES = 10  # 200 ms of pitched voice, or pitch is not reported
PITCH_CONTINUITY_FRAMES = 7  # over a beat: the median of 7 pitched frames around each...
PITCH_JUMP_SEMITONES = 3.0  # ...that a frame may not leave by more than this


# Flow: syllable nuclei are peaks of the smoothed speech-band energy
SYLLABLE_BAND_HZ = (300.0, 3000.0)
SYLLABLE_SMOOTH_SECONDS = 0.04
SYLLABLE_MIN_GAP_SECONDS = 0.08  # no faster than ~12 syllables per second
SYLLABLE_PROMINENCE_DB = 3.0  # the dip between two nuclei must be at least this deep
SYLLABLE_RANGE_DB = 25.0  # peaks further below the loud voiced frames are not syllables

_EPS = 1e-10

# Words for "above"/"below" the catalogue, per feature
_WORDS: dict[str, tuple[str, str]] = {
    "tempo_bpm": ("faster", "slower"),
    "syllable_rate": ("faster", "slower"),
    "pitch_median_hz": ("higher", "lower"),
    "pitch_range_semitones": ("wider range", "narrower range"),
    "energy_db": ("louder", "quieter"),
    "energy_dynamics_db": ("more dynamic", "more even"),
    "brightness_hz": ("brighter", "darker"),
    "pause_ratio": ("more pauses", "fewer pauses"),
}


def compute_style(
    wav: np.ndarray,
    sr: int = SAMPLE_RATE,
    speech_mask: np.ndarray | None = None,
    gain_db: float = 0.0,
    beat: np.ndarray | None = None,
) -> StyleProfile:
    """Measure the style of one analysed window.

    wav: float32 (n_samples,) mono at 16 kHz, at most ~30 s, already loudness-normalised.
    speech_mask: bool (n_samples / VAD_FRAME_SAMPLES,), True where voice; None: made here
        from frame energy. gain_db: the gain the normaliser applied, so that ``energy_db``
        reports the recording's own level. beat: the accompaniment the voice was isolated
        from (same length), when a beat played: the tempo is the beat's. Unmeasurable
        features are ``nan``.
    """
    wav = _check_input(wav, sr)
    vad = _energy_mask(wav) if speech_mask is None else _check_mask(speech_mask, wav.size)
    speaking = _bridge_gaps(vad, round(MIN_PAUSE_SECONDS / VAD_FRAME_SECONDS))

    mag = np.abs(librosa.stft(wav, n_fft=N_FFT, hop_length=HOP_LENGTH))
    power = mag**2
    n_frames = mag.shape[1]
    voiced = _to_frames(vad, n_frames)
    frame_db = 10.0 * np.log10(_frame_power(power) + _EPS)

    pitch_median, pitch_range = _pitch(wav, voiced, frame_db, continuous=beat is not None)
    energy, dynamics = _energy(frame_db[voiced], gain_db)
    tempo = beat_tempo(_check_input(beat, sr)) if beat is not None else voice_tempo(power)
    return StyleProfile(
        tempo_bpm=tempo,
        syllable_rate=_syllable_rate(power, voiced, speaking.sum() * VAD_FRAME_SECONDS),
        pitch_median_hz=pitch_median,
        pitch_range_semitones=pitch_range,
        energy_db=energy,
        energy_dynamics_db=dynamics,
        brightness_hz=_brightness(mag, voiced),
        pause_ratio=float(1.0 - speaking.mean()) if speaking.size else 1.0,
    )


def warmup() -> None:
    """JIT-compile every numba function compute_style uses (seconds; once per process)."""
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    bursts = (np.sin(2 * np.pi * 4 * t) > 0).astype(np.float32)
    wav = (0.3 * np.sin(2 * np.pi * 150 * t) * bursts).astype(np.float32)
    compute_style(wav)
    log.debug("style features warmed up")


def describe(
    profile: StyleProfile,
    population: np.ndarray | None = None,
    reference: StyleProfile | None = None,
    reference_name: str | None = None,
) -> tuple[str, ...]:
    """One line per measurable feature, for people.

    population: float (N, 8) catalogue profiles in ``StyleProfile.feature_names()`` order
    (nan ignored per column); it adds "faster than 80 % of the catalogue". reference: a
    profile to quote next to each value (e.g. the top match), named ``reference_name``.
    """
    names = StyleProfile.feature_names()
    if population is not None:
        population = np.asarray(population, dtype=np.float64)
        if population.ndim != 2 or population.shape[1] != len(names):
            raise ValueError(f"population must be (N, {len(names)}), got {population.shape}")
    lines = []
    for i, name in enumerate(names):
        value = float(getattr(profile, name))
        if not np.isfinite(value):
            continue
        line = f"{STYLE_DISPLAY[name][0]}: {format_style_value(name, value)}"
        if population is not None:
            line += _versus_population(name, value, population[:, i])
        if reference is not None and np.isfinite(getattr(reference, name)):
            ref_text = format_style_value(name, float(getattr(reference, name)))
            line += f"; {reference_name or 'your top match'}: {ref_text}"
        lines.append(line)
    return tuple(lines)


def _versus_population(name: str, value: float, column: np.ndarray) -> str:
    """' — faster than 80 % of the catalogue', worded from whichever side is larger."""
    column = column[np.isfinite(column)]
    if column.size == 0:
        return ""
    below = float(np.mean(column < value))
    above = float(np.mean(column > value))
    up, down = _WORDS[name]
    word, share = (up, below) if below >= above else (down, above)
    return f" — {word} than {round(100 * share)} % of the catalogue"


def _check_input(wav: np.ndarray, sr: int) -> np.ndarray:
    if sr != SAMPLE_RATE:
        raise ValueError(f"style features need {SAMPLE_RATE} Hz audio, got {sr} Hz")
    wav = np.ascontiguousarray(wav, dtype=np.float32)
    if wav.ndim != 1 or wav.size < N_FFT:
        raise ValueError(f"wav must be mono (n_samples >= {N_FFT},), got shape {wav.shape}")
    if not np.isfinite(wav).all():
        raise ValueError("wav holds nan or inf samples")
    return wav


def _check_mask(mask: np.ndarray, n_samples: int) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool).ravel()
    expected = n_samples / VAD_FRAME_SAMPLES
    if abs(mask.size - expected) > 1:
        raise ValueError(f"speech_mask has {mask.size} frames, audio has {expected:.1f}")
    return mask


def _energy_mask(wav: np.ndarray) -> np.ndarray:
    """Voice = VAD frames within ENERGY_MASK_RANGE_DB of the loudest and above a floor."""
    n = -(-wav.size // VAD_FRAME_SAMPLES)  # ceil: the last, partial frame counts too
    frames = np.pad(wav, (0, n * VAD_FRAME_SAMPLES - wav.size)).reshape(n, VAD_FRAME_SAMPLES)
    db = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + _EPS)
    return db > max(db.max() - ENERGY_MASK_RANGE_DB, ENERGY_MASK_FLOOR_DBFS)


def _bridge_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill runs of False shorter than max_gap frames that lie between two True frames."""
    out = mask.copy()
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    run_starts, run_ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    for gap_start, gap_end in zip(run_ends[:-1], run_starts[1:], strict=True):
        if gap_end - gap_start < max_gap:
            out[gap_start:gap_end] = True
    return out


def _to_frames(vad: np.ndarray, n_frames: int) -> np.ndarray:
    """VAD decisions per STFT frame (by frame centre); frames past the mask are unvoiced."""
    idx = np.arange(n_frames) * HOP_LENGTH // VAD_FRAME_SAMPLES
    if vad.size == 0:
        return np.zeros(n_frames, dtype=bool)
    return (idx < vad.size) & vad[np.minimum(idx, vad.size - 1)]


@lru_cache(maxsize=1)
def _window_norm() -> float:
    """Parseval factor: one-sided STFT power -> mean square of the (Hann-weighted) frame."""
    window = librosa.filters.get_window("hann", N_FFT, fftbins=True)
    return float(N_FFT * np.sum(window**2))


def _frame_power(power: np.ndarray) -> np.ndarray:
    """Mean square per frame from a one-sided power spectrogram (DC, Nyquist once)."""
    total = 2.0 * power.sum(axis=0) - power[0] - power[-1]
    return total / _window_norm()


def _syllable_rate(power: np.ndarray, voiced: np.ndarray, speaking_seconds: float) -> float:
    """Syllable nuclei (speech-band energy peaks in voiced frames) per second speaking."""
    if speaking_seconds <= 0 or not voiced.any():
        return float("nan")
    freqs = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=N_FFT)
    band = (freqs >= SYLLABLE_BAND_HZ[0]) & (freqs <= SYLLABLE_BAND_HZ[1])
    width = max(1, round(SYLLABLE_SMOOTH_SECONDS / FRAME_SECONDS))
    kernel = np.hanning(width + 2)[1:-1]
    envelope = np.convolve(power[band].sum(axis=0), kernel / kernel.sum(), mode="same")
    env_db = 10.0 * np.log10(envelope + _EPS)
    floor = np.percentile(env_db[voiced], 95) - SYLLABLE_RANGE_DB
    peaks, _ = find_peaks(
        env_db,
        height=floor,
        distance=max(1, round(SYLLABLE_MIN_GAP_SECONDS / FRAME_SECONDS)),
        prominence=SYLLABLE_PROMINENCE_DB,
    )
    return float(np.count_nonzero(voiced[peaks]) / speaking_seconds)


def _pitch(
    wav: np.ndarray, voiced: np.ndarray, frame_db: np.ndarray, continuous: bool = False
) -> tuple[float, float]:
    """(median f0 in Hz, 10th-90th percentile range in semitones) of trustworthy frames;
    ``continuous`` (a voice isolated from a beat) also drops frames that jump more than
    PITCH_JUMP_SEMITONES from their neighbours' median: what the separator leaves of a
    melody, and octave slips, do; a voice glides."""
    nan = float("nan")
    if not voiced.any():
        return nan, nan
    loud = frame_db > np.percentile(frame_db[voiced], 95) - PITCH_RANGE_DB
    keep = (voiced & loud)[:: PITCH_HOP // HOP_LENGTH]
    f0 = librosa.yin(
        wav,
        fmin=FMIN_HZ,
        fmax=FMAX_HZ,
        sr=SAMPLE_RATE,
        frame_length=PITCH_FRAME_SAMPLES,
        hop_length=PITCH_HOP,
    )
    keep = keep[: f0.size]
    f0 = f0[: keep.size]
    frames = librosa.util.frame(
        np.pad(wav, PITCH_FRAME_SAMPLES // 2),
        frame_length=PITCH_FRAME_SAMPLES,
        hop_length=PITCH_HOP,
    )[:, : f0.size]
    keep &= _periodicity(frames, SAMPLE_RATE / f0) >= MIN_PERIODICITY
    if np.count_nonzero(keep) < MIN_PITCHED_FRAMES:
        return nan, nan
    track = f0[keep]
    if continuous:
        local = scipy.signal.medfilt(track, PITCH_CONTINUITY_FRAMES)
        track = track[np.abs(12.0 * np.log2(track / local)) <= PITCH_JUMP_SEMITONES]
        if track.size < MIN_PITCHED_FRAMES:
            return nan, nan
    low, median, high = np.percentile(track, [10, 50, 90])
    return float(median), float(12.0 * np.log2(high / low))


def _periodicity(frames: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of each frame (column) at its own period (samples)."""
    width = frames.shape[0] - int(np.ceil(SAMPLE_RATE / FMIN_HZ)) - 1  # room for any lag
    lag = np.clip(np.round(period).astype(int), 1, frames.shape[0] - width)
    head = frames[:width]
    tail = np.take_along_axis(frames, np.arange(width)[:, None] + lag[None, :], axis=0)
    num = np.sum(head * tail, axis=0)
    den = np.sqrt(np.sum(head**2, axis=0) * np.sum(tail**2, axis=0)) + _EPS
    return num / den


def _energy(voiced_db: np.ndarray, gain_db: float) -> tuple[float, float]:
    """(RMS of all voiced frames in dBFS before normalisation, 90th - 10th percentile, dB)."""
    if voiced_db.size == 0:
        return float("nan"), float("nan")
    mean_db = 10.0 * np.log10(np.mean(10.0 ** (voiced_db / 10.0)))
    low, high = np.percentile(voiced_db, [10, 90])
    return float(mean_db - gain_db), float(high - low)


def _brightness(mag: np.ndarray, voiced: np.ndarray) -> float:
    """Mean spectral centroid (Hz) of the voiced frames."""
    if not voiced.any():
        return float("nan")
    freqs = librosa.fft_frequencies(sr=SAMPLE_RATE, n_fft=N_FFT).astype(np.float32)
    # Element-wise, not freqs @ mag: no BLAS threads (see _drum_mel_basis)
    centroid = (freqs[:, None] * mag).sum(axis=0) / (mag.sum(axis=0) + _EPS)
    return float(np.mean(centroid[voiced]))
