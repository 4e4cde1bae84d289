"""Training mixes for the voice separator: clean voices over numpy beats, with their labels.

* Voices: clean clips of a ``make_corpus.py`` corpus (``manifest.csv`` rows with no beat),
  each scaled to ``VOICE_RMS_DBFS`` of active level. ``split_identities`` keeps every third
  identity (sorted by name) out of training, for validation on unseen voices.
* Beats: ``render_beats`` renders each numpy beat (``inference.audio.beats``) part by part
  (drums, 808, chords, melody, lead), so that a mix can use any subset at any part gains:
  full beats, drums only, chords and melody only, the vocal-like lead.
* ``make_batch`` draws a batch: clean voice (some with room noise or mild reverb), beat
  alone, or voice over a beat at -5..+12 dB (half of those at 0..5 dB, where members are);
  pauses cut into the voice; phone band-limiting (300-3400 Hz) of the voice or of the mix.
  Targets: the voice as it is in the mix, and per STFT frame whether it is voiced: its
  energy within ``ACTIVE_RANGE_DB`` of the clip's loudest frame and above ``FLOOR_DBFS``.

* ``load_gm_beats``: full General-MIDI beats rendered by ``bench.gm_beats``'s training
  family (``gm-train``: FluidR3, programs neither test family plays), read from their
  cache folder; ``make_batch`` takes a crop of one instead of a numpy beat half the time.
  Trained on numpy beats alone, the net called 8-20 s of a 20 s sampled-instrument beat
  "voice"; the test families gm-a and gm-b are never trained on.

Deliberately not here: the net, the loss and the loop (``train``), rendering General-MIDI
beats (``bench.gm_beats``), and any file writing except the beat cache.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from inference.audio.beats import PART_GAIN_DB, PARTS, STYLES, make_beat

__all__ = [
    "FLOOR_DBFS",
    "Batch",
    "MixOptions",
    "VoiceClip",
    "activity_labels",
    "frame_db",
    "load_gm_beats",
    "load_voices",
    "make_batch",
    "render_beats",
    "split_identities",
]

log = logging.getLogger(__name__)

SR = 16_000  # Hz
HOLDOUT_EVERY = 3  # identities sorted by name: index % 3 == 2 is held out
VOICE_RMS_DBFS = -23.0  # active level every voice clip is scaled to when loaded
ACTIVE_RANGE_DB = 35.0  # dB: a frame within this of the clip's loudest frame is voiced...
FLOOR_DBFS = -60.0  # ...if it is also above this (frame RMS of the voice at VOICE_RMS_DBFS)
LEVEL_FRAME = 160  # samples (10 ms): frames of the active-power measure used for SNRs
LEVEL_RANGE_DB = 30.0  # dB: active-power frames are within this of the loudest (beats.py)
PHONE_BAND_HZ = (300.0, 3400.0)
EDGE = 160  # samples: fades at pause edges


@dataclass(frozen=True)
class MixOptions:
    """How often each kind of training mix is drawn, and its ranges."""

    p_clean: float = 0.12  # voice alone (maybe noise, reverb)
    p_beat_only: float = 0.15  # beat alone: activity 0, voice silent
    snr_db: tuple[float, float] = (-5.0, 12.0)
    p_member_snr: float = 0.5  # of the voice + beat mixes: SNR drawn from member_snr_db
    member_snr_db: tuple[float, float] = (0.0, 5.0)
    part_gain_db: float = 4.0  # +- on each beat part's level
    p_pauses: float = 0.5  # chance of 1-3 silences cut into the voice
    p_reverb: float = 0.2
    p_noise: float = 0.3  # room noise at noise_snr_db below the voice (or beat)
    noise_snr_db: tuple[float, float] = (20.0, 45.0)
    p_phone: float = 0.12  # half on the voice only, half on the whole mix
    p_gm: float = 0.5  # of the mixes with a beat: a General-MIDI beat, when a bank is given


@dataclass(frozen=True, eq=False)
class VoiceClip:
    audio: np.ndarray  # float32 at VOICE_RMS_DBFS active level
    identity: str
    ref_db: float  # loudest frame's RMS, dBFS (frame_db at the separator's framing)


@dataclass(frozen=True, eq=False)
class Batch:
    mix: np.ndarray  # (B, N) float32
    voice: np.ndarray  # (B, N) float32: the voice as it is in the mix
    active: np.ndarray  # (B, 1 + N // hop) float32 0/1: voiced frames
    has_voice: np.ndarray  # (B,) bool


def split_identities(identities: Sequence[str]) -> tuple[list[str], list[str]]:
    """(train, held out): every HOLDOUT_EVERY-th identity in name order is held out."""
    names = sorted(set(identities))
    held = [n for i, n in enumerate(names) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1]
    return [n for n in names if n not in held], held


def frame_db(x: np.ndarray, n_fft: int = 512, hop: int = 256) -> np.ndarray:
    """RMS (dBFS) of each Hann-windowed frame, frames centred on i * hop (zero padded):
    the frames of ``torch.stft(center=True)``."""
    padded = np.pad(np.asarray(x, dtype=np.float32), n_fft // 2)
    n = 1 + x.size // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    w = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    power = np.mean(np.square(padded[idx] * w), axis=1) / np.mean(w**2)
    return np.asarray(10 * np.log10(power + 1e-12), dtype=np.float32)


def activity_labels(voice: np.ndarray, ref_db: float, n_fft: int, hop: int) -> np.ndarray:
    """1.0 for frames where ``voice`` (at VOICE_RMS_DBFS scale) is voiced, else 0.0."""
    db = frame_db(voice, n_fft, hop)
    return (db > max(ref_db - ACTIVE_RANGE_DB, FLOOR_DBFS)).astype(np.float32)


def _active_power(x: np.ndarray) -> float:
    n = x.size // LEVEL_FRAME
    if n == 0:
        return 0.0
    energy = np.mean(np.square(x[: n * LEVEL_FRAME]).reshape(n, LEVEL_FRAME), axis=1)
    top = energy.max()
    return float(energy[energy >= top * 10 ** (-LEVEL_RANGE_DB / 10)].mean()) if top > 0 else 0.0


def load_voices(
    folder: str | Path, identities: Sequence[str], n_fft: int = 512, hop: int = 256
) -> list[VoiceClip]:
    """The clean clips (manifest ``beat`` 0) of ``identities``, at VOICE_RMS_DBFS."""
    root, wanted = Path(folder), set(identities)
    out = []
    with open(root / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["identity"] in wanted and r["beat"] == "0"]
    for row in rows:
        audio, sr = sf.read(root / row["path"], dtype="float32")
        if sr != SR or audio.ndim != 1:
            raise ValueError(f"{row['path']}: expected mono {SR} Hz, got {sr} Hz {audio.shape}")
        power = _active_power(audio)
        if power <= 0:
            continue
        audio = audio * np.float32(10 ** (VOICE_RMS_DBFS / 20) / np.sqrt(power))
        ref = float(frame_db(audio, n_fft, hop).max())
        out.append(VoiceClip(audio.astype(np.float32), row["identity"], ref))
    log.info("loaded %d clean clips of %d identities from %s", len(out), len(wanted), root)
    return out


def render_beats(
    n: int, seconds: float, seed: int, cache_dir: str | Path | None = None
) -> np.ndarray:
    """(n, len(PARTS), samples) float32: each beat's parts rendered alone, at equal RMS.
    Beat i is ``make_beat(STYLES[i % 4], seconds=..., rng=seed * 100_003 + i)``."""
    key = hashlib.sha256(f"{n}-{seconds}-{seed}-{PARTS}".encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"beats-{key}.npy" if cache_dir else None
    if path is not None and path.is_file():
        return np.load(path, allow_pickle=False)
    stems = np.zeros((n, len(PARTS), round(seconds * SR)), dtype=np.float32)
    for i in range(n):
        style = STYLES[i % len(STYLES)]
        for j, part in enumerate(PARTS):
            beat = make_beat(style, None, seconds, seed * 100_003 + i, parts={part})
            stems[i, j, : beat.audio.size] = beat.audio[: stems.shape[2]]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npy")
        np.save(tmp, stems)
        tmp.replace(path)
    return stems


def load_gm_beats(folder: str | Path, sr: int = SR) -> np.ndarray:
    """(n, samples) float32: every beat cached in ``folder`` (``bench.gm_beats``'s .npz
    files, plain arrays), cut to the shortest, each at unit RMS."""
    beats = []
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path, allow_pickle=False) as z:
            audio = z["audio"].astype(np.float32)
        if audio.size and float(np.mean(audio**2)) > 0:
            beats.append(audio / np.float32(np.sqrt(np.mean(audio**2))))
    if not beats:
        raise FileNotFoundError(f"no General-MIDI beats (*.npz) in {folder}")
    n = min(b.size for b in beats)
    log.info("loaded %d General-MIDI beats of %.1f s from %s", len(beats), n / sr, folder)
    return np.stack([b[:n] for b in beats])


def _beat_parts(rng: np.random.Generator) -> list[str]:
    """20 % drums (808 sometimes), 20 % tonal only (lead and 808 sometimes), else drums and
    808 with some of chords, melody and the vocal-like lead."""
    u = rng.random()
    if u < 0.2:
        return ["drums", "808"] if rng.random() < 0.5 else ["drums"]
    if u < 0.4:
        extra = [p for p, c in (("lead", 0.4), ("808", 0.3)) if rng.random() < c]
        return ["chords", "melody", *extra]
    extra = [p for p, c in (("chords", 0.8), ("melody", 0.7), ("lead", 0.35)) if rng.random() < c]
    return ["drums", "808", *extra]


def _beat(rng: np.random.Generator, bank: np.ndarray, n: int, opts: MixOptions) -> np.ndarray:
    """A crop of ``n`` samples of a random part subset of a random beat of the bank."""
    i, start = int(rng.integers(bank.shape[0])), int(rng.integers(bank.shape[2] - n + 1))
    out = np.zeros(n, dtype=np.float32)
    for part in _beat_parts(rng):
        gain = PART_GAIN_DB[part] + rng.uniform(-opts.part_gain_db, opts.part_gain_db)
        out += bank[i, PARTS.index(part), start : start + n] * np.float32(10 ** (gain / 20))
    return out


def _voice(
    rng: np.random.Generator, clips: Sequence[VoiceClip], n: int, opts: MixOptions
) -> tuple[np.ndarray, float]:
    """A crop of ``n`` samples of a random clip (pauses and reverb maybe), and its ref dB."""
    clip = clips[int(rng.integers(len(clips)))]
    audio = clip.audio
    if audio.size < n:
        audio = np.pad(audio, (0, n - audio.size))
    start = int(rng.integers(audio.size - n + 1))
    x = audio[start : start + n].copy()
    if rng.random() < opts.p_pauses:
        for _ in range(int(rng.integers(1, 4))):
            a = int(rng.integers(n))
            b = min(n, a + int(rng.uniform(0.2, 1.2) * SR))
            ramp = np.zeros(b - a, dtype=np.float32)
            k = min(EDGE, (b - a) // 2)
            if k:
                ramp[:k] = np.linspace(1, 0, k)
                ramp[-k:] = np.linspace(0, 1, k)
            x[a:b] *= ramp
    if rng.random() < opts.p_reverb:
        x = _reverb(rng, x)
    return x, clip.ref_db


def _reverb(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """A small room: exponentially decaying noise tail (RT60 0.15-0.5 s) 3-15 dB under the
    direct sound; the active level is kept."""
    rt60 = rng.uniform(0.15, 0.5)
    t = np.arange(int(rt60 * SR)) / SR
    tail = rng.normal(0, 1, t.size) * np.exp(-6.9 * t / rt60)
    tail[0] = 0.0
    drr_db = rng.uniform(3.0, 15.0)
    tail *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail**2))
    tail[0] = 1.0
    wet = scipy.signal.fftconvolve(x, tail)[: x.size]
    before, after = _active_power(x), _active_power(wet)
    return (wet * np.sqrt(before / after) if after > 0 else wet).astype(np.float32)


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS room noise: white, pink-ish or brown-ish."""
    white = rng.normal(0, 1, n)
    pole = float(rng.choice([0.0, 0.9, 0.99]))
    x = scipy.signal.lfilter([1.0], [1.0, -pole], white) if pole else white
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


def _phone(x: np.ndarray) -> np.ndarray:
    sos = scipy.signal.butter(4, PHONE_BAND_HZ, btype="bandpass", fs=SR, output="sos")
    return scipy.signal.sosfilt(sos, x).astype(np.float32)


def make_batch(
    rng: np.random.Generator,
    clips: Sequence[VoiceClip],
    beats: np.ndarray,
    size: int,
    seconds: float,
    opts: MixOptions = MixOptions(),  # frozen: a shared default is safe
    n_fft: int = 512,
    hop: int = 256,
    gm: np.ndarray | None = None,
) -> Batch:
    """``size`` mixes of ``seconds`` each with their voice targets and activity labels."""
    n = round(seconds * SR)
    mixes, voices, labels, has = [], [], [], []
    for _ in range(size):
        u = rng.random()
        voice, ref_db = _voice(rng, clips, n, opts)
        beat = np.zeros(n, dtype=np.float32)
        if u >= opts.p_clean:
            if gm is not None and rng.random() < opts.p_gm:
                i, start = int(rng.integers(gm.shape[0])), int(rng.integers(gm.shape[1] - n + 1))
                beat = gm[i, start : start + n].copy()
            else:
                beat = _beat(rng, beats, n, opts)
        if opts.p_clean <= u < opts.p_clean + opts.p_beat_only:
            voice = np.zeros(n, dtype=np.float32)
        phone = rng.random() < opts.p_phone
        if phone:
            voice = _phone(voice)
        label = activity_labels(voice, ref_db, n_fft, hop)
        p_voice, p_beat = _active_power(voice), float(np.mean(beat**2))
        if p_voice > 0 and p_beat > 0:
            lo, hi = opts.member_snr_db if rng.random() < opts.p_member_snr else opts.snr_db
            snr = rng.uniform(lo, hi)
            beat *= np.float32(np.sqrt(p_voice / (p_beat * 10 ** (snr / 10))))
        elif p_beat > 0:  # beat alone: at a level a voice at VOICE_RMS_DBFS would have
            beat *= np.float32(10 ** (rng.uniform(-30.0, -12.0) / 20) / np.sqrt(p_beat))
        if phone and rng.random() < 0.5:
            beat = _phone(beat)
        if rng.random() < opts.p_noise:
            level = max(p_voice, float(np.mean(beat**2)), 1e-6)
            snr = rng.uniform(*opts.noise_snr_db)
            noise = _noise(rng, n) * np.float32(np.sqrt(level / 10 ** (snr / 10)))
            beat = (beat + noise).astype(np.float32)
        mixes.append(voice + beat)
        voices.append(voice)
        labels.append(label)
        has.append(p_voice > 0)
    return Batch(
        mix=np.stack(mixes).astype(np.float32),
        voice=np.stack(voices).astype(np.float32),
        active=np.stack(labels),
        has_voice=np.array(has),
    )
