"""Gallery augmentation: extra versions of each catalogue clip, made when it is built.

A member who sounds like an artist rarely sounds exactly like the studio take: a little
higher or lower, faster or slower, in a room with a phone. Each catalogue window is
therefore also embedded pitch-shifted (±1.5 semitones), tempo-changed (×0.85, ×1.15),
through a synthetic room and phone band, and with white noise (15-25 dB SNR). Queries
pay nothing for this; the catalogue holds ``1 + len(VARIANTS)`` vectors per window, and
LDA (``inference.matching``) is fitted on all of them, so it learns to ignore these
changes.

The settings deliberately differ from the benchmark's query conditions (±2 semitones,
±10 % tempo, its own room/phone chain): the benchmark measures generalisation, not
recall of the same transforms. Only used at build time; nothing here runs on a request.

``CHANNEL_VARIANTS`` are what separates a member's phone note from a studio take, drawn
per clip: a random band-pass, a longer room, low-bitrate opus (needs ffmpeg), a drum beat
underneath (synthesised here, not the benchmark's beat), a musical beat underneath (808,
chords, melody, drums from ``inference.audio.beats``, 0-6 dB under the voice, as members
rap over one), and a phone chain of room, band and opus. ``AUGMENT_SETS`` names the
variant sets a catalogue can be built with; ``channel-1`` is the channel set before the
musical beat, kept so that clips added to an older catalogue get its own recipe.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from functools import lru_cache

import numpy as np
import scipy.signal

from ..audio.beats import mix_at_snr, random_beat
from ..constants import SAMPLE_RATE
from ..errors import RapsimError

Variant = Callable[[np.ndarray, np.random.Generator], np.ndarray]

ROOM_RT60_SECONDS = (0.2, 0.5)  # reverberation time drawn per clip
ROOM_BAND_HZ = (200.0, 4000.0)
ROOM_DRR_DB = (0.0, 6.0)  # direct-to-reverberant energy ratio drawn per clip
NOISE_SNR_DB = (15.0, 25.0)


def _level_like(out: np.ndarray, ref: np.ndarray) -> np.ndarray:
    gain = np.sqrt(np.mean(ref**2) / max(float(np.mean(out**2)), 1e-12))
    out = out * min(gain, 10.0)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return (out / peak * 0.99 if peak > 0.99 else out).astype(np.float32)


def pitch(semitones: float) -> Variant:
    def shift(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import librosa

        return _level_like(librosa.effects.pitch_shift(wav, sr=SAMPLE_RATE, n_steps=semitones), wav)

    return shift


def tempo(rate: float) -> Variant:
    def stretch(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import librosa

        return _level_like(librosa.effects.time_stretch(wav, rate=rate), wav)

    return stretch


@lru_cache(maxsize=1)
def _band() -> np.ndarray:
    return scipy.signal.butter(4, ROOM_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE, output="sos")


def _room_tail(
    rng: np.random.Generator, rt60_range: tuple[float, float], drr_range: tuple[float, float]
) -> np.ndarray:
    """A synthetic room response: a direct path (energy 1), then exponentially decaying
    noise (-60 dB at an RT60 drawn from ``rt60_range``) at a direct-to-reverberant ratio
    drawn from ``drr_range`` (dB)."""
    rt60 = rng.uniform(*rt60_range)
    n = int(1.2 * rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail *= np.sqrt(10 ** (-rng.uniform(*drr_range) / 10) / np.sum(tail**2))
    tail[0] = 1.0
    return tail


def room(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room (ROOM_RT60_SECONDS, ROOM_DRR_DB) and a phone band."""
    wet = scipy.signal.fftconvolve(wav, _room_tail(rng, ROOM_RT60_SECONDS, ROOM_DRR_DB))
    return _level_like(scipy.signal.sosfilt(_band(), wet[: wav.size]), wav)


def noise(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White noise at an SNR drawn from NOISE_SNR_DB (over the clip's mean power)."""
    snr = rng.uniform(*NOISE_SNR_DB)
    power = float(np.mean(wav**2)) / 10 ** (snr / 10)
    return _level_like(wav + np.sqrt(power) * rng.standard_normal(wav.size), wav)


# ---- channel variants -------------------------------------------------------------
BAND_LOW_HZ = (150.0, 400.0)
BAND_HIGH_HZ = (2800.0, 5000.0)
REVERB_RT60_SECONDS = (0.3, 0.9)
REVERB_DRR_DB = (-3.0, 6.0)
OPUS_KBPS = (10.0, 24.0)
BEAT_BPM = (70.0, 110.0)
BEAT_SNR_DB = (0.0, 10.0)  # active voice over beat power
FFMPEG_TIMEOUT_SECONDS = 60.0


def band(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A band-pass with edges drawn from BAND_LOW_HZ and BAND_HIGH_HZ (one pass, causal)."""
    edges = (rng.uniform(*BAND_LOW_HZ), rng.uniform(*BAND_HIGH_HZ))
    sos = scipy.signal.butter(4, edges, btype="bandpass", fs=SAMPLE_RATE, output="sos")
    return _level_like(scipy.signal.sosfilt(sos, wav), wav)


def reverb(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A full-band room with RT60 and direct-to-reverberant ratio drawn per clip."""
    tail = _room_tail(rng, REVERB_RT60_SECONDS, REVERB_DRR_DB)
    return _level_like(scipy.signal.fftconvolve(wav, tail)[: wav.size], wav)


def opus_round_trip(wav: np.ndarray, kbps: float) -> np.ndarray:
    """``wav`` encoded to ogg/opus at ``kbps`` (libopus, voip) and decoded back, same length.
    RapsimError when ffmpeg is missing or fails."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RapsimError("the opus variants need ffmpeg, which is not installed")
    raw = ["-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1"]
    base = [exe, "-nostdin", "-hide_banner", "-loglevel", "error"]
    encode = [*raw, "-i", "pipe:0", "-ar", "48000", "-c:a", "libopus", "-b:a", f"{kbps:.0f}k"]
    encode += ["-application", "voip", "-f", "ogg", "pipe:1"]
    data = np.ascontiguousarray(wav, dtype=np.float32).tobytes()
    for args in (encode, ["-f", "ogg", "-i", "pipe:0", *raw, "pipe:1"]):
        try:
            proc = subprocess.run(
                [*base, *args], input=data, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired as e:
            raise RapsimError("ffmpeg took too long on an opus variant") from e
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip()[-200:]
            raise RapsimError(f"ffmpeg failed on an opus variant: {tail}")
        data = proc.stdout
    out = np.frombuffer(data, dtype=np.float32)[: wav.size]
    return np.pad(out, (0, wav.size - out.size))


def opus(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Low-bitrate opus, bitrate drawn from OPUS_KBPS."""
    return _level_like(opus_round_trip(wav, rng.uniform(*OPUS_KBPS)), wav)


def _hit(n: int, decay_s: float, rng: np.random.Generator, tone_hz: float = 0.0) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    env = np.exp(-t / decay_s)
    if tone_hz:  # a kick: a sine whose pitch falls by half over the hit
        phase = 2 * np.pi * np.cumsum(tone_hz * (0.5 + 0.5 * env)) / SAMPLE_RATE
        return np.sin(phase) * env
    return rng.standard_normal(n) * env


def drum_loop(n: int, rng: np.random.Generator) -> np.ndarray:
    """A kick / snare / hi-hat loop of ``n`` samples, tempo drawn from BEAT_BPM, unit RMS."""
    step = int(SAMPLE_RATE * 60.0 / rng.uniform(*BEAT_BPM) / 2)  # eighth notes
    hat = scipy.signal.sosfilt(
        scipy.signal.butter(2, 6000, btype="highpass", fs=SAMPLE_RATE, output="sos"),
        _hit(step, 0.02, rng),
    )
    kick = _hit(step, 0.12, rng, tone_hz=rng.uniform(50, 70))
    snare_band = scipy.signal.butter(
        2, (1000, 5000), btype="bandpass", fs=SAMPLE_RATE, output="sos"
    )
    snare = 0.6 * scipy.signal.sosfilt(snare_band, _hit(step, 0.08, rng)) + 0.3 * _hit(
        step, 0.06, rng, tone_hz=190
    )
    out = np.zeros(n + step)
    for i, start in enumerate(range(0, n, step)):
        beat = i % 8
        sound = 0.25 * hat
        if beat in (0, 4) or (beat == 5 and rng.random() < 0.5):
            sound = sound + kick
        if beat in (2, 6):
            sound = sound + snare
        out[start : start + step] += sound
    out = out[:n]
    return out / max(float(np.sqrt(np.mean(out**2))), 1e-12)


def beat(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A drum loop under the voice at an SNR drawn from BEAT_SNR_DB (voice power over the
    beat's, the voice measured where it is within 40 dB of its loudest 10 ms)."""
    frames = wav[: wav.size // 160 * 160].reshape(-1, 160) if wav.size >= 160 else wav[None, :]
    energy = np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12
    active = float(energy[10 * np.log10(energy) > 10 * np.log10(energy.max()) - 40].mean())
    loop = drum_loop(wav.size, rng) * np.sqrt(active / 10 ** (rng.uniform(*BEAT_SNR_DB) / 10))
    mix = wav + loop
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    return (mix / peak * 0.99 if peak > 0.99 else mix).astype(np.float32)


MUSIC_SNR_DB = (0.0, 6.0)  # active voice over the beat's power


def music(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A musical beat (style, tempo, key and parts drawn) under the voice at an SNR drawn
    from MUSIC_SNR_DB; the pipeline then hears it as a note over a beat."""
    beat = random_beat(rng, seconds=wav.size / SAMPLE_RATE + 0.5)
    return mix_at_snr(wav, beat.audio, float(rng.uniform(*MUSIC_SNR_DB)), rng)


def phone(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A phone in a room: a short room, a phone band and opus, all drawn per clip."""
    return opus(band(room(wav, rng), rng), rng)


VARIANTS: dict[str, Variant] = {
    "pitch-1.5": pitch(-1.5),
    "pitch+1.5": pitch(1.5),
    "tempo0.85": tempo(0.85),
    "tempo1.15": tempo(1.15),
    "room": room,
    "noise": noise,
}

CHANNEL_VARIANTS: dict[str, Variant] = {
    "band": band,
    "reverb": reverb,
    "opus": opus,
    "beat": beat,
    "music": music,
    "phone": phone,
}

AUGMENT_SETS: Mapping[str, Mapping[str, Variant]] = {
    "none": {},
    "gallery": VARIANTS,
    "channel": {**VARIANTS, **CHANNEL_VARIANTS},
    "channel-1": {**VARIANTS, **{k: v for k, v in CHANNEL_VARIANTS.items() if k != "music"}},
}
DEFAULT_AUGMENT = "channel"  # bench.heads: phone notes 0.53 -> 0.84 top-1 over "gallery"


def augment_set_of(names: list[str] | tuple[str, ...]) -> str:
    """The name of the augmentation set made of these variant names (a catalogue's
    ``matching["augment"]``); ValueError for a list no set matches."""
    for set_name, variants in AUGMENT_SETS.items():
        if sorted(variants) == sorted(names):
            return set_name
    raise ValueError(f"no augmentation set has exactly the variants {sorted(names)}")
