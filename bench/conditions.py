"""Degradations the accuracy benchmark applies to query clips.

Every function takes float32 mono audio at ``SAMPLE_RATE`` (16 kHz) and returns float32
mono 16 kHz audio of about the same level; the random ones draw only from the numpy
``Generator`` they are given, so a condition is deterministic for a given seed.
``CONDITIONS`` maps a condition name to a ``(wav, rng) -> wav`` function; its entries are
picklable (``functools.partial`` of module functions), so a process pool can run them.

Mixing conventions (the same as ``make_corpus.py``): an SNR is the active-speech power of
the input (frames within 40 dB of the loudest) over the mean power of what is added; the
voice keeps its level and the mix is only scaled down if a peak would exceed
``PEAK_LIMIT``. Filters and codecs give their output the input's RMS back.

Not here: loading or saving audio, choosing which clips to degrade, scoring.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from types import ModuleType

import librosa
import numpy as np
from scipy import signal

from inference.constants import PEAK_LIMIT, SAMPLE_RATE

__all__ = [
    "CONDITIONS",
    "Condition",
    "add_beat",
    "add_noise",
    "band_limit",
    "opus_roundtrip",
    "phone",
    "pitch_shift",
    "room_reverb",
    "time_stretch",
]

log = logging.getLogger(__name__)

Condition = Callable[[np.ndarray, np.random.Generator], np.ndarray]

LEVEL_FRAME = 160  # samples (10 ms) per frame when measuring active-speech power
ACTIVE_RANGE_DB = 40.0  # frames within this of the loudest frame count as active speech
MAX_LEVEL_GAIN_DB = 20.0  # level matching never amplifies more than this (e.g. a filtered-out tone)
BEAT_BPM_RANGE = (80.0, 100.0)  # make_corpus.py's default tempo range
SHARED_CORPUS_ENV = "RAPSIM_SHARED_CORPUS"  # folder holding make_corpus.py (drum synthesis)
FFMPEG_TIMEOUT_SECONDS = 60.0


# --------------------------------------------------------------------------- levels
def _check(wav: np.ndarray) -> np.ndarray:
    x = np.asarray(wav, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected mono 1-D audio, got shape {x.shape}")
    return x


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def active_power(x: np.ndarray) -> float:
    """Mean power of the frames within ``ACTIVE_RANGE_DB`` of the loudest 10 ms frame."""
    n = len(x) // LEVEL_FRAME
    if n == 0:
        return float(np.mean(np.square(x, dtype=np.float64))) + 1e-12
    frames = np.square(x[: n * LEVEL_FRAME], dtype=np.float64).reshape(n, LEVEL_FRAME)
    energy = frames.mean(axis=1)
    db = 10 * np.log10(energy + 1e-12)
    return float(energy[db > db.max() - ACTIVE_RANGE_DB].mean()) + 1e-12


def _match_level(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``out`` scaled to the RMS of ``ref`` (gain capped), peaks kept below PEAK_LIMIT."""
    r_out, r_ref = _rms(out), _rms(ref)
    gain = min(r_ref / r_out, 10 ** (MAX_LEVEL_GAIN_DB / 20)) if r_out > 0 else 1.0
    return _limit_peak(out * gain)


def _limit_peak(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    y = x * (PEAK_LIMIT / peak) if peak > PEAK_LIMIT else x
    return np.asarray(y, dtype=np.float32)


def _mix_at_snr(speech: np.ndarray, other: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech + other``, ``other`` scaled so active-speech power / its power = snr_db."""
    p_other = float(np.mean(np.square(other, dtype=np.float64)))
    if p_other <= 0:
        return _limit_peak(speech)
    scale = np.sqrt(active_power(speech) / (p_other * 10 ** (snr_db / 10)))
    return _limit_peak(speech.astype(np.float64) + scale * other)


# --------------------------------------------------------------------------- sound-alikes
def pitch_shift(wav: np.ndarray, semitones: float) -> np.ndarray:
    """Shift the pitch by ``semitones`` (same duration); level kept."""
    x = _check(wav)
    y = librosa.effects.pitch_shift(x, sr=SAMPLE_RATE, n_steps=float(semitones))
    return _match_level(y, x)


def time_stretch(wav: np.ndarray, rate: float) -> np.ndarray:
    """Play ``rate`` times faster (1.1: 10 % faster, ``len / rate`` samples); pitch kept."""
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    x = _check(wav)
    return _match_level(librosa.effects.time_stretch(x, rate=float(rate)), x)


# --------------------------------------------------------------------------- channel
def band_limit(wav: np.ndarray, low_hz: float = 300.0, high_hz: float = 3400.0) -> np.ndarray:
    """Telephone band: zero-phase 4th-order Butterworth band-pass (8th order after filtfilt)."""
    if not 0 < low_hz < high_hz < SAMPLE_RATE / 2:
        raise ValueError(f"need 0 < low_hz < high_hz < {SAMPLE_RATE / 2}, got {low_hz}, {high_hz}")
    x = _check(wav)
    sos = signal.butter(4, [low_hz, high_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    padlen = min(len(x) - 1, 3 * (2 * len(sos) + 1))  # short input: sosfiltfilt's default fails
    y = signal.sosfiltfilt(sos, x.astype(np.float64), padlen=max(padlen, 0))
    return _match_level(y, x)


def room_impulse_response(rng: np.random.Generator, rt60: float, drr_db: float = 3.0) -> np.ndarray:
    """A synthetic room: a direct path, then exponentially decaying noise (-60 dB at rt60).

    ``drr_db`` is the direct-to-reverberant energy ratio. The tail starts after a short
    pre-delay (first reflections, 3-8 ms) and lasts 1.2 * rt60.
    """
    n = int(1.2 * rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-3 * np.log(10) * t / rt60)  # amplitude -60 dB at rt60
    tail[: int(rng.uniform(0.003, 0.008) * SAMPLE_RATE)] = 0.0
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    tail[0] = 1.0  # the direct path, energy 1
    return tail


def room_reverb(
    wav: np.ndarray, rng: np.random.Generator, rt60: float | tuple[float, float] = (0.3, 0.7)
) -> np.ndarray:
    """Convolve with a synthetic room response; ``rt60`` seconds, or drawn from a range."""
    x = _check(wav)
    t60 = float(rng.uniform(*rt60)) if isinstance(rt60, tuple) else float(rt60)
    if t60 <= 0:
        raise ValueError(f"rt60 must be positive, got {t60}")
    y = signal.fftconvolve(x.astype(np.float64), room_impulse_response(rng, t60))[: len(x)]
    return _match_level(y, x)


def _ffmpeg(args: list[str], data: bytes) -> bytes:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise FileNotFoundError("ffmpeg not found (apt-get install ffmpeg)")
    cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", *args]
    proc = subprocess.run(cmd, input=data, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"ffmpeg exited {proc.returncode}: {err[-500:]}")
    return proc.stdout


def opus_roundtrip(
    wav: np.ndarray, bitrate_kbps: float = 12, application: str = "voip"
) -> np.ndarray:
    """Encode to ogg/opus (libopus, 48 kHz, like a chat voice note) and decode back.

    Runs through pipes (no temp files). The result is cut or zero-padded to the input length.
    """
    x = _check(wav)
    raw = ["-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1"]
    ogg = _ffmpeg(
        [
            *raw,
            "-i",
            "pipe:0",
            "-ar",
            "48000",
            "-c:a",
            "libopus",
            "-b:a",
            f"{bitrate_kbps}k",
            "-application",
            application,
            "-fflags",
            "+bitexact",
            "-flags:a",
            "+bitexact",
            "-f",
            "ogg",
            "pipe:1",
        ],
        x.tobytes(),
    )
    pcm = _ffmpeg(["-f", "ogg", "-i", "pipe:0", *raw, "pipe:1"], ogg)
    y = np.frombuffer(pcm, dtype=np.float32)
    y = np.pad(y[: len(x)], (0, max(0, len(x) - len(y))))
    return _match_level(y, x)


# --------------------------------------------------------------------------- additive
def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Noise with a 1/f power spectrum (flat below 20 Hz), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1 / SAMPLE_RATE)
    spec /= np.sqrt(np.maximum(freqs, 20.0))
    y = np.fft.irfft(spec, n=n)
    return y / (_rms(y) + 1e-12)


def add_noise(
    wav: np.ndarray, rng: np.random.Generator, snr_db: float, colour: str = "pink"
) -> np.ndarray:
    """Add pink (default) or white noise at ``snr_db`` (active speech over noise)."""
    x = _check(wav)
    if colour == "pink":
        noise = pink_noise(rng, len(x))
    elif colour == "white":
        noise = rng.standard_normal(len(x))
    else:
        raise ValueError(f"colour must be 'pink' or 'white', got {colour!r}")
    return _mix_at_snr(x, noise, snr_db)


@cache
def _shared_corpus() -> ModuleType:
    """``make_corpus.py`` from the shared corpus folder, loaded once by file path."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
    path = Path(os.environ.get(SHARED_CORPUS_ENV) or default) / "make_corpus.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: set {SHARED_CORPUS_ENV} to its folder")
    spec = importlib.util.spec_from_file_location("rapsim_shared_make_corpus", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if module.SR != SAMPLE_RATE:
        raise ImportError(f"{path} synthesises at {module.SR} Hz, expected {SAMPLE_RATE}")
    log.debug("drum synthesis from %s", path)
    return module


def drum_beat(rng: np.random.Generator, n_samples: int, bpm: float | None = None) -> np.ndarray:
    """A kick/snare/hi-hat loop from make_corpus.py's synthesiser (tempo drawn if None)."""
    tempo = float(rng.uniform(*BEAT_BPM_RANGE)) if bpm is None else float(bpm)
    return _shared_corpus().make_beat(n_samples, tempo, rng)


def add_beat(
    wav: np.ndarray, rng: np.random.Generator, snr_db: float, bpm: float | None = None
) -> np.ndarray:
    """Put a drum beat under the voice at ``snr_db`` (active speech over beat power)."""
    x = _check(wav)
    return _mix_at_snr(x, drum_beat(rng, len(x), bpm), snr_db)


# --------------------------------------------------------------------------- composite
def phone(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A member's phone note in a room: reverb, phone band, light noise, 16 kbit/s opus."""
    x = _check(wav)
    y = room_reverb(x, rng)
    y = band_limit(y)
    y = add_noise(y, rng, snr_db=25.0)
    return _match_level(opus_roundtrip(y, bitrate_kbps=16), x)


def clean(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The query as it is (float32 copy)."""
    return _check(wav).copy()


def first_seconds(wav: np.ndarray, rng: np.random.Generator, seconds: float = 5.0) -> np.ndarray:
    """A short take: the query's first ``seconds`` (the whole query when shorter)."""
    return _check(wav)[: int(seconds * SAMPLE_RATE)].copy()


def _without_rng(
    fn: Callable[..., np.ndarray], wav: np.ndarray, rng: np.random.Generator, **kwargs: float
) -> np.ndarray:
    return fn(wav, **kwargs)


CONDITIONS: dict[str, Condition] = {
    "clean": clean,
    "pitch+2": partial(_without_rng, pitch_shift, semitones=2.0),
    "pitch-2": partial(_without_rng, pitch_shift, semitones=-2.0),
    "tempo+10": partial(_without_rng, time_stretch, rate=1.1),
    "tempo-10": partial(_without_rng, time_stretch, rate=0.9),
    "phone": phone,
    "loud_beat": partial(add_beat, snr_db=0.0),
    "beat_5db": partial(add_beat, snr_db=5.0),
    "low_bitrate": partial(_without_rng, opus_roundtrip, bitrate_kbps=8),
    "noise_10db": partial(add_noise, snr_db=10.0),
    "short_5s": first_seconds,
}
