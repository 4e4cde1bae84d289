"""Voice isolated from a beat, and where a voice is, by one small network (torch, CPU).

Members rap over beats whose 808, chords and melody sit in the voice's own range, so a
pitch or VAD test takes a melody for a voice and every style measure or embedding hears
the beat too. ``Separator`` runs a dilated 1-D convolution net over the frames of the
input's STFT and returns, per frame, a mask over the frequency bins (the voice's share)
and the probability that a voice is present. The voice is the mask applied to the
mixture's STFT, inverted with the mixture's phase; the accompaniment is what is left.

* ``SeparatorConfig``: the STFT and net sizes, saved as ``config.json`` beside the weights
  (``weights.npz``, plain arrays: nothing is unpickled). ``Separator.load()`` with no folder
  loads the weights shipped in this package (``inference/audio/separator/``).
* ``Separator.separate(wav)`` -> ``Separation`` for float32 mono 16 kHz up to
  ``MAX_SECONDS``. STFT, net and inverse STFT run on chunks of ``chunk_frames`` frames,
  each with ``context_frames`` of real input on both sides (more than the net's receptive
  field and the window's overlap), so chunked output equals one pass and memory stays
  small whatever the length.

Deliberately not here: training (``models.separation``), decoding, deciding whether a note
has enough voice (callers threshold ``Separation.activity`` or use ``voiced``), threads
(the caller sets ``torch.set_num_threads``), and loading on an event loop.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ..constants import HOP_LENGTH, SAMPLE_RATE
from ..errors import RapsimError

__all__ = [
    "FORMAT_VERSION",
    "MAX_SECONDS",
    "SHIPPED_DIR",
    "Separation",
    "Separator",
    "SeparatorConfig",
    "SeparatorError",
    "SeparatorNet",
    "VoiceSeparator",
    "features",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1  # bump when the net, the features or the file layout change
MAX_SECONDS = 300.0  # s: longest input ``separate`` accepts (MAX_DECODE_SECONDS)
SHIPPED_DIR = Path(__file__).with_name("separator")
CONFIG_FILE, WEIGHTS_FILE = "config.json", "weights.npz"
LOG_FLOOR = 1e-5  # linear magnitude added before the log of the features
WARMUP_SECONDS = 1.0  # s of noise that ``warmup`` separates


class VoiceSeparator(Protocol):
    """What the pipeline needs of a separator: this one or ``demucs_sep.DemucsSeparator``."""

    digest: str

    def separate(self, wav: np.ndarray) -> Separation: ...

    def warmup(self) -> None: ...


class SeparatorError(RapsimError):
    """The separator's files are missing, damaged, or of another format version."""


@dataclass(frozen=True)
class SeparatorConfig:
    """Everything that fixes the net's shape and what it sees. Saved as ``config.json``."""

    sr: int = SAMPLE_RATE  # Hz
    n_fft: int = 512  # samples: 32 ms window, 257 bins of 31.25 Hz
    hop: int = 256  # samples: 16 ms frames, 50 % overlap (hop 160: ~1.5x the cost per note)
    channels: int = 96  # width of the conv stack
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 1, 4)  # one residual block each
    kernel: int = 3  # taps of each dilated conv
    input_rms_dbfs: float = -23.0  # the whole input is scaled to this RMS before features
    chunk_frames: int = 2048  # frames the net sees per pass (~33 s), plus context
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.n_fft % self.hop or self.hop <= 0 or self.chunk_frames <= 0:
            raise ValueError(f"need hop dividing n_fft and chunk_frames > 0: {self}")

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def receptive_frames(self) -> int:
        """Frames on each side that an output frame depends on."""
        return sum(d * (self.kernel - 1) // 2 for d in self.dilations)

    @property
    def context_frames(self) -> int:
        """Real frames given on each side of a chunk: a margin over the receptive field."""
        return self.receptive_frames + 8

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SeparatorConfig:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("the config is not a JSON object")
        known = {f.name for f in fields(cls)}
        if set(raw) - known:
            raise ValueError(f"unknown config keys {sorted(set(raw) - known)}")
        if "dilations" in raw:
            raw["dilations"] = tuple(int(d) for d in raw["dilations"])
        return cls(**raw)


class _Block(nn.Module):
    """Residual block: dilated conv, ReLU, 1x1 conv, added back. Frame-parallel."""

    def __init__(self, channels: int, dilation: int, kernel: int) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=pad)
        self.proj = nn.Conv1d(channels, channels, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.proj(torch.relu(self.conv(h)))


class SeparatorNet(nn.Module):
    """(batch, bins, frames) log-magnitude features -> (mask in 0..1 of the same shape,
    activity logit per frame of shape (batch, frames))."""

    feat_mean: torch.Tensor  # (bins, 1): per-bin feature mean of the training mixes
    feat_std: torch.Tensor  # (bins, 1)

    def __init__(self, config: SeparatorConfig) -> None:
        super().__init__()
        bins, c = config.bins, config.channels
        self.register_buffer("feat_mean", torch.zeros(bins, 1))
        self.register_buffer("feat_std", torch.ones(bins, 1))
        self.inp = nn.Conv1d(bins, c, 1)
        self.blocks = nn.ModuleList(_Block(c, d, config.kernel) for d in config.dilations)
        self.out = nn.Conv1d(c, bins + 1, 1)  # mask logits, then the activity logit

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.inp((feats - self.feat_mean) / self.feat_std)
        for block in self.blocks:
            h = block(h)
        y = self.out(torch.relu(h))
        return torch.sigmoid(y[:, :-1]), y[:, -1]


def features(spec: torch.Tensor) -> torch.Tensor:
    """Log magnitude of a complex STFT (any leading shape), float32."""
    return torch.log(spec.abs() + LOG_FLOOR)


def level_gain(wav: torch.Tensor, config: SeparatorConfig) -> torch.Tensor:
    """Gain (per row of ``wav``, shape (..., 1)) that brings its RMS to the input level."""
    rms = wav.square().mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-6)
    return 10 ** (config.input_rms_dbfs / 20) / rms


@dataclass(frozen=True, eq=False)
class Separation:
    """What ``Separator.separate`` found. Audio is float32 mono at ``sr``."""

    voice: np.ndarray = field(repr=False)  # the masked mixture, same length as the input
    accompaniment: np.ndarray = field(repr=False)  # input - voice
    activity: np.ndarray = field(repr=False)  # float32 per frame: P(voice), frame i at i*hop
    hop: int  # samples between activity frames
    sr: int = SAMPLE_RATE

    def voiced(self, threshold: float = 0.5, step: int = HOP_LENGTH) -> np.ndarray:
        """bool per ``step`` samples (1: per sample, HOP_LENGTH: per 10 ms) of the input:
        the nearest frame's activity is at least ``threshold``."""
        n = math.ceil(self.voice.size / step)
        centres = (np.arange(n) * step + (step - 1) / 2) / self.hop
        frame = np.clip(np.rint(centres).astype(np.int64), 0, self.activity.size - 1)
        return self.activity[frame] >= threshold

    def voiced_seconds(self, threshold: float = 0.5) -> float:
        """Seconds of input whose activity is at least ``threshold``."""
        return float(np.count_nonzero(self.activity >= threshold) * self.hop / self.sr)


class Separator:
    """A loaded separator. Load once per worker process, then ``warmup``."""

    def __init__(self, net: SeparatorNet, config: SeparatorConfig, digest: str = "") -> None:
        self.net = net.eval()
        self.config = config
        self.digest = digest  # sha256 prefix of the weights file: what the separator is
        self._window = torch.hann_window(config.n_fft)

    @classmethod
    def load(cls, folder: str | Path | None = None) -> Separator:
        """The separator saved in ``folder`` (None: the one shipped in the package)."""
        root = SHIPPED_DIR if folder is None else Path(folder)
        config = _read_config(root / CONFIG_FILE)
        net = SeparatorNet(config)
        net.load_state_dict(_read_weights(root / WEIGHTS_FILE, net))
        digest = hashlib.sha256((root / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]
        return cls(net, config, digest)

    def save(self, folder: str | Path, dtype: type = np.float16) -> None:
        """Write ``config.json`` and ``weights.npz`` into ``folder`` (made if missing)."""
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        arrays = {
            k: v.detach().cpu().numpy().astype(dtype) for k, v in self.net.state_dict().items()
        }
        tmp = root / f".{WEIGHTS_FILE}.tmp"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        tmp.replace(root / WEIGHTS_FILE)
        tmp_cfg = root / f".{CONFIG_FILE}.tmp"
        tmp_cfg.write_text(self.config.to_json() + "\n")
        tmp_cfg.replace(root / CONFIG_FILE)

    def warmup(self) -> None:
        """One short call, so that the first request pays for no lazy initialisation."""
        noise = np.random.default_rng(0).normal(0, 0.05, int(WARMUP_SECONDS * self.config.sr))
        self.separate(noise.astype(np.float32))

    def stft(self, wav: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        return torch.stft(
            wav, cfg.n_fft, cfg.hop, window=self._window, center=True, return_complex=True
        )

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        cfg = self.config
        return torch.istft(spec, cfg.n_fft, cfg.hop, window=self._window, length=length)

    @torch.inference_mode()
    def separate(self, wav: np.ndarray) -> Separation:
        """Voice, accompaniment and per-frame voice probability of float32 mono audio at
        ``config.sr`` (1 sample to MAX_SECONDS). Raises ValueError on other shapes."""
        x = np.asarray(wav, dtype=np.float32)
        if x.ndim != 1 or x.size == 0 or x.size > MAX_SECONDS * self.config.sr:
            raise ValueError(f"expected mono audio of 1 sample to {MAX_SECONDS:.0f} s, {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("the audio holds NaN or infinite samples")
        cfg, n = self.config, x.size
        half, n_frames = cfg.n_fft // 2, 1 + x.size // cfg.hop
        gain = level_gain(torch.from_numpy(x), cfg)
        # torch.stft(center=True)'s reflect padding, done once so that chunks cut frames
        # exactly where one pass over the whole input would
        padded = torch.from_numpy(np.pad(x, half, mode="reflect" if n > half else "constant"))
        voice = np.empty(n, dtype=np.float32)
        activity = np.empty(n_frames, dtype=np.float32)
        for start in range(0, n_frames, cfg.chunk_frames):
            stop = min(start + cfg.chunk_frames, n_frames)
            lo, hi = max(start - cfg.context_frames, 0), min(stop + cfg.context_frames, n_frames)
            seg = padded[lo * cfg.hop : (hi - 1) * cfg.hop + cfg.n_fft]
            spec = torch.stft(seg, cfg.n_fft, cfg.hop, window=self._window, center=False,
                              return_complex=True)  # fmt: skip
            mask, logit = self.net(features(spec * gain)[None])
            activity[start:stop] = torch.sigmoid(logit[0, start - lo : stop - lo]).numpy()
            samples = self._overlap_add(spec * mask[0]).numpy()
            a, b = start * cfg.hop, min(stop * cfg.hop, n)  # this chunk's input samples
            offset = half - lo * cfg.hop  # input sample i is samples[i + offset]
            voice[a:b] = samples[a + offset : b + offset]
        return Separation(voice, (x - voice).astype(np.float32), activity, cfg.hop, cfg.sr)

    def _overlap_add(self, spec: torch.Tensor) -> torch.Tensor:
        """Inverse of ``torch.stft(center=False)`` for (bins, T) frames: (T - 1) * hop +
        n_fft samples, windowed overlap-add over the window's square (as torch.istft)."""
        cfg = self.config
        r, t = cfg.n_fft // cfg.hop, spec.shape[-1]
        frames = torch.fft.irfft(spec, n=cfg.n_fft, dim=0).T * self._window
        parts = frames.reshape(t, r, cfg.hop)
        w2 = self._window.square().reshape(r, cfg.hop)
        out = torch.zeros(t + r - 1, cfg.hop)
        env = torch.zeros(t + r - 1, cfg.hop)
        for j in range(r):
            out[j : j + t] += parts[:, j]
            env[j : j + t] += w2[j]
        return (out / env.clamp_min(1e-11)).reshape(-1)


def _read_config(path: Path) -> SeparatorConfig:
    if not path.is_file():
        raise SeparatorError(f"the voice separator is not installed: {path} is missing")
    try:
        config = SeparatorConfig.from_json(path.read_text())
    except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise SeparatorError(f"the voice separator's config {path} is damaged: {exc}") from exc
    if config.version != FORMAT_VERSION:
        raise SeparatorError(
            f"the voice separator in {path.parent} is format {config.version}; this code "
            f"reads format {FORMAT_VERSION}: retrain it or install the matching version"
        )
    return config


def _read_weights(path: Path, net: nn.Module) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise SeparatorError(f"the voice separator's weights are missing: {path}")
    expected = net.state_dict()
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:  # truncated, or object arrays
        raise SeparatorError(f"the voice separator's weights {path} are damaged: {exc}") from exc
    if set(arrays) != set(expected):
        missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
        raise SeparatorError(
            f"the voice separator's weights {path} do not fit its config "
            f"(missing {missing[:3]}, unexpected {extra[:3]})"
        )
    out = {}
    for key, ref in expected.items():
        if arrays[key].shape != tuple(ref.shape):
            raise SeparatorError(
                f"the voice separator's weights {path} do not fit its config: {key} is "
                f"{arrays[key].shape}, expected {tuple(ref.shape)}"
            )
        out[key] = torch.from_numpy(arrays[key].astype(np.float32))
    return out
