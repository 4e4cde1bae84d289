"""Voice isolated from a beat by a Demucs model, for those who can download its weights.

An optional alternative to the built-in separator (:mod:`inference.audio.separate`) with
the same interface: ``DemucsSeparator.separate(wav)`` returns a
:class:`~inference.audio.separate.Separation` for float32 mono 16 kHz audio. It needs the
``demucs`` package (``pip install rapsim[demucs]``; demucs 4.1.0, Alexandre Défossez's own
release, which provides the hybrid architectures ``HTDemucs`` (v4) and ``HDemucs`` (v3)).

* **A model folder** holds ``config.json`` (format tag, the model class, its constructor
  arguments, the sha256 of the weights) and ``weights.safetensors`` (a plain state_dict).
  Loading builds the class named in the config (only ``HTDemucs`` or ``HDemucs``) and reads
  the tensors with safetensors: nothing is unpickled, and a changed or damaged weights file
  is refused by its checksum.
* **Writing one** needs internet once: ``python -m inference.audio.demucs_sep export
  <out_folder> [--name htdemucs]`` fetches the pretrained model through demucs' own
  ``demucs.pretrained.get_model`` (its HuggingFace or legacy download) and writes the folder.
  Of a bag of several models (``htdemucs_ft``) it keeps the one weighted most on vocals.
  Then ``load_separator("demucs:<out_folder>")``.
* **Separation**: the note is resampled to the model's rate (44.1 kHz, soxr), copied to
  its channels (stereo), scaled to unit RMS, separated by ``demucs.apply.apply_model``
  (overlapping segments, no random shifts, so the result is deterministic), and each stem
  is averaged over channels and resampled back to 16 kHz, cut to the input's length. The
  voice is the ``vocals`` stem; the accompaniment is the sum of the other stems. Demucs
  predicts each stem on its own and does not make them add up to the mixture, so voice +
  accompaniment is the input only as far as the model is right.
* **Where a voice is** (``Separation.activity``, every 16 ms as the built-in separator):
  from the energy of the vocals stem against the mixture's in a 32 ms window,
  ``P = sigmoid((10 log10(E_vocals / E_mix) - RATIO_MID_DB) / RATIO_SLOPE_DB)``: 0.5 where
  the vocals stem holds a quarter of the mixture's energy (-6 dB), 0.95 at 0 dB, 0.05 at
  -12 dB; frames more than ``QUIET_DB`` under the note's mean energy (or digitally silent)
  are 0. These constants are reasoned, not tuned: no real weights could be run here.

Deliberately not here: choosing this path (``load_separator`` only parses a spec; the
pipeline decides), quality figures for the pretrained weights, downloads at run time
(``load`` reads a local folder only), GPUs, threads (the caller sets
``torch.set_num_threads``) and bags of several models.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import soxr
import torch
from torch import nn

from ..constants import SAMPLE_RATE
from .separate import MAX_SECONDS, Separation, Separator, SeparatorError, VoiceSeparator

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "DemucsConfig",
    "DemucsError",
    "DemucsSeparator",
    "VoiceSeparator",
    "export",
    "export_pretrained",
    "load_separator",
    "voice_activity",
]

log = logging.getLogger(__name__)

FORMAT, FORMAT_VERSION = "rapsim-demucs", 1  # bump the version when the folder changes
CONFIG_FILE, WEIGHTS_FILE = "config.json", "weights.safetensors"
MODEL_CLASSES = ("HTDemucs", "HDemucs")  # the classes a config may name
VOICE_STEM = "vocals"
INSTALL_HINT = "install rapsim[demucs] (pip install 'demucs>=4.1,<5')"
HOP = 256  # samples at 16 kHz: 16 ms between activity frames, as the built-in separator
FRAME = 512  # samples at 16 kHz: 32 ms window summed for each activity frame's energies
RATIO_MID_DB = -6.0  # dB of vocals stem energy under the mixture's where P(voice) = 0.5
RATIO_SLOPE_DB = 2.0  # dB per unit of the logit: P 0.05 at -12 dB, 0.95 at 0 dB
QUIET_DB = 40.0  # dB: frames this far under the note's mean energy hold no voice
SILENT_ENERGY = 1e-10  # mean square (-100 dBFS): digital silence holds no voice
OVERLAP = 0.25  # share of a segment that overlaps the next (demucs' default)
WARMUP_SECONDS = 1.0  # s of noise that ``warmup`` separates
DEFAULT_PRETRAINED = "htdemucs"  # demucs' default model: one HTDemucs


class DemucsError(SeparatorError):
    """A Demucs separator folder is missing, damaged, or demucs is not installed."""


@dataclass(frozen=True)
class DemucsConfig:
    """``config.json`` of a model folder: which class to build, how, and its weights' hash."""

    model_class: str  # one of MODEL_CLASSES
    kwargs: dict[str, Any] = field(repr=False)  # constructor arguments, JSON values
    weights_sha256: str  # of weights.safetensors: a damaged or swapped file is refused
    origin: str = ""  # where the weights came from, e.g. "htdemucs (demucs 4.1.0)"

    def to_json(self) -> str:
        raw = {"format": FORMAT, "version": FORMAT_VERSION, "class": self.model_class,
               "kwargs": {k: _encode(v) for k, v in self.kwargs.items()},
               "weights_sha256": self.weights_sha256, "origin": self.origin}  # fmt: skip
        return json.dumps(raw, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DemucsConfig:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} config")
        if raw.get("version") != FORMAT_VERSION:
            raise ValueError(f"format version {raw.get('version')}, this code reads "
                             f"{FORMAT_VERSION}: export the folder again")  # fmt: skip
        if raw.get("class") not in MODEL_CLASSES:
            raise ValueError(f"model class {raw.get('class')!r} is not one of {MODEL_CLASSES}")
        kwargs, sha = raw.get("kwargs"), raw.get("weights_sha256")
        if not isinstance(kwargs, dict) or not isinstance(sha, str) or len(sha) != 64:
            raise ValueError("kwargs or weights_sha256 missing")
        kwargs = {k: _decode(v) for k, v in kwargs.items()}
        return cls(raw["class"], kwargs, sha, str(raw.get("origin", "")))


def _encode(value: Any) -> Any:
    """JSON for a constructor argument: a Fraction (HTDemucs' segment) as its two ints."""
    if isinstance(value, Fraction):
        return {"fraction": [value.numerator, value.denominator]}
    return list(value) if isinstance(value, tuple) else value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"fraction"}:
        return Fraction(*value["fraction"])
    return value


class DemucsSeparator:
    """A loaded Demucs model with ``Separator``'s interface. Load once per process, then
    ``warmup``."""

    def __init__(self, model: nn.Module, digest: str = "") -> None:
        """``model``: a demucs model (or any module with ``sources``, ``samplerate``,
        ``audio_channels`` and ``segment`` that ``apply_model`` accepts)."""
        self.model = model.eval()
        meta: Any = model  # demucs models carry these as plain attributes
        self.sources = [str(s) for s in meta.sources]
        if VOICE_STEM not in self.sources:
            raise DemucsError(f"the Demucs model has no {VOICE_STEM!r} stem: {self.sources}")
        self.voice_index = self.sources.index(VOICE_STEM)
        self.samplerate = int(meta.samplerate)
        self.channels = int(meta.audio_channels)
        self.digest = digest  # sha256 prefix of the weights file: what the separator is

    @classmethod
    def load(cls, folder: str | Path) -> DemucsSeparator:
        """The model exported into ``folder`` (see ``export``). Raises DemucsError."""
        root = Path(folder)
        if not root.is_dir():
            raise DemucsError(f"the Demucs separator folder {root} does not exist")
        config = _read_config(root / CONFIG_FILE)
        model = build_model(config, root / CONFIG_FILE)
        digest = _load_weights(model, root / WEIGHTS_FILE, config)
        log.info("Demucs separator %s (%s) from %s", config.model_class, digest, root)
        return cls(model, digest)

    def warmup(self) -> None:
        """One short call, so that the first request pays for no lazy initialisation."""
        noise = np.random.default_rng(0).normal(0, 0.05, int(WARMUP_SECONDS * SAMPLE_RATE))
        self.separate(noise.astype(np.float32))

    @torch.inference_mode()
    def separate(self, wav: np.ndarray) -> Separation:
        """Voice, accompaniment and per-frame voice probability of float32 mono 16 kHz
        audio (1 sample to MAX_SECONDS). Raises ValueError on other shapes."""
        x = np.asarray(wav, dtype=np.float32)
        if x.ndim != 1 or x.size == 0 or x.size > MAX_SECONDS * SAMPLE_RATE:
            raise ValueError(f"expected mono audio of 1 sample to {MAX_SECONDS:.0f} s, {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("the audio holds NaN or infinite samples")
        stems = self.stems(x)
        voice = stems[self.voice_index]
        accompaniment = (stems.sum(axis=0) - voice).astype(np.float32)
        return Separation(voice, accompaniment, voice_activity(voice, x), HOP, SAMPLE_RATE)

    def stems(self, x: np.ndarray) -> np.ndarray:
        """float32 (sources, x.size): every stem of ``x`` (16 kHz mono), mono at 16 kHz."""
        from demucs.apply import apply_model  # installed: a model was built

        mix = soxr.resample(x, SAMPLE_RATE, self.samplerate).astype(np.float32)
        scale = float(np.sqrt(np.mean(np.square(mix, dtype=np.float64)))) + 1e-8
        batch = torch.from_numpy(mix / scale).expand(self.channels, -1).contiguous()[None]
        out = apply_model(cast(Any, self.model), batch, shifts=0, split=True, overlap=OVERLAP,
                          progress=False, num_workers=0)  # fmt: skip
        per_source = (out[0].mean(dim=1) * scale).numpy().T  # (samples, sources)
        back = soxr.resample(np.ascontiguousarray(per_source), self.samplerate, SAMPLE_RATE)
        stems = np.zeros((len(self.sources), x.size), dtype=np.float32)
        m = min(x.size, back.shape[0])  # soxr's lengths round; the start is aligned
        stems[:, :m] = back[:m].T
        return stems


def voice_activity(voice: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """float32 P(voice) per HOP samples (frame i centred on sample i * HOP, 1 + n // HOP
    frames) from the energy of ``voice`` against ``mix`` (the rule in the module doc)."""
    e_voice, e_mix = _frame_energy(voice), _frame_energy(mix)
    ratio_db = 10 * np.log10((e_voice + SILENT_ENERGY) / (e_mix + SILENT_ENERGY))
    p = 1 / (1 + np.exp(-(ratio_db - RATIO_MID_DB) / RATIO_SLOPE_DB))
    floor = max(float(e_mix.mean()) * 10 ** (-QUIET_DB / 10), SILENT_ENERGY)
    p[e_mix <= floor] = 0.0
    return p.astype(np.float32)


def _frame_energy(x: np.ndarray) -> np.ndarray:
    """Mean square of x over FRAME samples centred on every HOP-th sample (zero-padded)."""
    sq = np.pad(np.square(x, dtype=np.float64), FRAME // 2)
    c = np.concatenate([[0.0], np.cumsum(sq)])
    starts = np.arange(1 + x.size // HOP) * HOP
    return np.maximum(c[starts + FRAME] - c[starts], 0.0) / FRAME


def _model_classes() -> dict[str, type[nn.Module]]:
    try:
        from demucs.hdemucs import HDemucs
        from demucs.htdemucs import HTDemucs
    except ImportError as exc:
        raise DemucsError(f"the Demucs separator needs the demucs package: {INSTALL_HINT}") from exc
    return {"HTDemucs": HTDemucs, "HDemucs": HDemucs}


def build_model(config: DemucsConfig, where: Path | str = CONFIG_FILE) -> nn.Module:
    """The untrained model ``config`` describes. Raises DemucsError naming ``where``."""
    klass = _model_classes()[config.model_class]
    known = inspect.signature(klass).parameters
    unknown = sorted(set(config.kwargs) - set(known))
    if unknown:
        raise DemucsError(f"the Demucs config {where} is damaged: {config.model_class} "
                          f"takes no {unknown[:3]}")  # fmt: skip
    try:
        return klass(**config.kwargs)
    except (TypeError, ValueError, AssertionError, RuntimeError, ZeroDivisionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DemucsError(f"the Demucs config {where} does not build a model: {msg}") from exc


def _read_config(path: Path) -> DemucsConfig:
    if not path.is_file():
        raise DemucsError(f"the Demucs separator's config is missing: {path}")
    try:
        return DemucsConfig.from_json(path.read_text())
    except (ValueError, TypeError, UnicodeDecodeError) as exc:  # JSONDecodeError: ValueError
        raise DemucsError(f"the Demucs config {path} is damaged: {exc}") from exc


def _load_weights(model: nn.Module, path: Path, config: DemucsConfig) -> str:
    """Load ``path`` into ``model`` after checking its hash and keys; the digest."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    if not path.is_file():
        raise DemucsError(f"the Demucs separator's weights are missing: {path}")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    if sha != config.weights_sha256:
        raise DemucsError(f"the Demucs weights {path} are damaged or not the ones its "
                          f"config names (sha256 {sha[:16]}, expected "
                          f"{config.weights_sha256[:16]}): export the folder again")  # fmt: skip
    try:
        state = load_safetensors(data)
    except SafetensorError as exc:
        raise DemucsError(f"the Demucs weights {path} are damaged: {exc}") from exc
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    bad = [k for k in expected.keys() & state.keys() if expected[k].shape != state[k].shape]
    if missing or extra or bad:
        raise DemucsError(f"the Demucs weights {path} do not fit its config (missing "
                          f"{missing[:3]}, unexpected {extra[:3]}, "
                          f"other shape {bad[:3]})")  # fmt: skip
    model.load_state_dict(state)
    return sha[:16]


def model_kwargs(model: nn.Module) -> dict[str, Any]:
    """Constructor arguments of a demucs model (recorded by demucs' ``capture_init``)."""
    args, kwargs = model._init_args_kwargs  # type: ignore[misc]
    bound = inspect.signature(type(model)).bind(*args, **kwargs)
    out = dict(bound.arguments)
    out["segment"] = model.segment  # a bag may have set another segment than the init
    return out


def export(model: nn.Module, folder: str | Path, origin: str = "") -> DemucsConfig:
    """Write ``model`` (an HTDemucs or HDemucs) as a folder ``DemucsSeparator.load`` reads:
    weights first, config last, each through a temp file and ``os.replace``."""
    name = type(model).__name__
    if name not in MODEL_CLASSES:
        raise DemucsError(f"cannot export a {name}: only {MODEL_CLASSES}")
    from safetensors.torch import save_file

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    tmp = root / f".{WEIGHTS_FILE}.tmp"
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    sha = hashlib.sha256(tmp.read_bytes()).hexdigest()
    config = DemucsConfig(name, model_kwargs(model), sha, origin)
    try:
        text = config.to_json()
    except TypeError as exc:  # an argument JSON cannot hold: leave no half-written folder
        tmp.unlink()
        raise DemucsError(f"cannot export this {name}: {exc}") from exc
    os.replace(tmp, root / WEIGHTS_FILE)
    tmp_cfg = root / f".{CONFIG_FILE}.tmp"
    tmp_cfg.write_text(text + "\n")
    os.replace(tmp_cfg, root / CONFIG_FILE)
    return config


def export_pretrained(name: str, folder: str | Path) -> DemucsConfig:
    """Download demucs' pretrained ``name`` with demucs' own loader (needs internet) and
    export it; of a bag of models, the one weighted most on vocals."""
    try:
        import demucs
        from demucs.apply import BagOfModels
        from demucs.pretrained import get_model
    except ImportError as exc:
        raise DemucsError(f"exporting needs the demucs package: {INSTALL_HINT}") from exc
    found = get_model(name)
    models, weights = [found], [[1.0] * len(found.sources)]
    if isinstance(found, BagOfModels):
        models, weights = list(found.models), found.weights
    if VOICE_STEM not in found.sources:
        raise DemucsError(f"{name} has no {VOICE_STEM!r} stem: {found.sources}")
    k = found.sources.index(VOICE_STEM)
    best = max(range(len(models)), key=lambda i: weights[i][k])
    if len(models) > 1:
        log.warning("%s is a bag of %d models; keeping model %d (vocals weight %.2f)",
                    name, len(models), best, weights[best][k])  # fmt: skip
    return export(models[best], folder, origin=f"{name} (demucs {demucs.__version__})")


def load_separator(spec: str = "") -> Separator | DemucsSeparator:
    """The separator a spec names: "" or "builtin" (the package's), "demucs:<folder>"."""
    kind, colon, arg = spec.strip().partition(":")
    if kind in ("", "builtin") and not colon:
        return Separator.load()
    if kind == "demucs" and arg.strip():
        return DemucsSeparator.load(Path(arg.strip()).expanduser())
    raise SeparatorError(f"unknown separator {spec!r}: use 'builtin' or 'demucs:<folder>'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.audio.demucs_sep")
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="download a pretrained model and write its folder")
    exp.add_argument("out_folder", type=Path)
    exp.add_argument("--name", default=DEFAULT_PRETRAINED, help="demucs model name")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config = export_pretrained(args.name, args.out_folder)
    except SeparatorError as exc:
        log.error("%s", exc)
        return 2
    digest = config.weights_sha256[:16]
    print(f"wrote {args.out_folder} ({config.model_class}, {digest}): "
          f"load it with load_separator('demucs:{args.out_folder}')")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
