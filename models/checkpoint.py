"""Head checkpoints: one self-describing file per trained head.

The file is ``torch.save`` of a dict of plain types (read back with
``torch.load(weights_only=True)``, so loading never runs code from the file)::

    format          "rapsim-head"
    format_version  FORMAT_VERSION
    config          HeadConfig.to_dict()
    encoder         {"name", "version", "dim"} of the embeddings the head was trained on
    state_dict      the module's tensors
    history         [{"epoch", "train_loss", "val_loss"}, ...]
    torch_version   the torch that wrote it (informational)

Writes go to a temp file in the target folder and are moved into place (``os.replace``).
A head only makes sense on embeddings from the encoder it was trained on: ``load_head``
with ``expect_encoder`` refuses any other. This module does not train or apply heads.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from inference import atomic_write

from .errors import HeadError
from .heads import Head, HeadConfig, build_head
from .train import EpochLoss, encoder_id

log = logging.getLogger(__name__)

FORMAT = "rapsim-head"
FORMAT_VERSION = 1
_KEYS = ("format", "format_version", "config", "encoder", "state_dict", "history")


def save_head(
    path: str | os.PathLike[str],
    head: Head,
    config: HeadConfig,
    encoder: Mapping[str, Any],
    history: Sequence[EpochLoss] = (),
) -> Path:
    """Write ``head`` with its config, encoder id and loss history to ``path``, atomically."""
    enc = encoder_id(encoder)
    if enc["dim"] != config.input_dim:
        raise HeadError(
            f"the head takes {config.input_dim}-d embeddings, but encoder {enc['name']} "
            f"gives {enc['dim']}-d ones"
        )
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "encoder": enc,
        "state_dict": {k: v.detach().cpu().clone() for k, v in head.state_dict().items()},
        "history": [h.to_dict() for h in history],
        "torch_version": str(torch.__version__),  # TorchVersion is not a plain str
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, buf.getvalue())
    log.info("saved %s head for %s %s to %s", config.kind, enc["name"], enc["version"], target)
    return target


def load_head(
    path: str | os.PathLike[str], expect_encoder: Mapping[str, Any] | None = None
) -> tuple[Head, HeadConfig, dict[str, Any]]:
    """(head in eval mode, its config, meta) from a checkpoint. ``meta`` holds
    ``format_version``, ``encoder``, ``history`` (tuple of EpochLoss) and ``torch_version``.

    HeadError when the file is missing, damaged or not a head checkpoint, or when
    ``expect_encoder`` is given and its name, version or dim differ from the head's.
    """
    target = Path(path)
    payload = _read(target)
    enc = payload["encoder"]
    if expect_encoder is not None:
        want = encoder_id(expect_encoder)
        if want != enc:
            raise HeadError(
                f"head {target.name} was trained on encoder {_describe(enc)}, not "
                f"{_describe(want)}: train a head for that encoder or pick its encoder"
            )
    try:
        config = HeadConfig.from_dict(payload["config"])
        if config.input_dim != enc["dim"]:
            raise ValueError(f"config input_dim {config.input_dim} != encoder dim {enc['dim']}")
        head = build_head(config)
        head.load_state_dict(payload["state_dict"])
        history = tuple(EpochLoss(**h) for h in payload["history"])
    except (ValueError, TypeError, KeyError, RuntimeError) as e:
        raise HeadError(f"head checkpoint {target} is damaged ({_short(e)})") from e
    head.eval()
    meta = {
        "format_version": payload["format_version"],
        "encoder": dict(enc),
        "history": history,
        "torch_version": str(payload.get("torch_version", "")),
    }
    return head, config, meta


def _read(target: Path) -> dict[str, Any]:
    """The checkpoint's dict, checked for format, version and the keys every version has."""
    if not target.is_file():
        raise HeadError(f"no head checkpoint at {target}")
    try:
        payload = torch.load(target, map_location="cpu", weights_only=True)
    except Exception as e:  # torch's reader fails on garbage in open-ended ways
        raise HeadError(f"{target} is damaged or not a head checkpoint ({_short(e)})") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise HeadError(f"{target} is not a rapsim head checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise HeadError(
            f"head {target} has format version {payload.get('format_version')!r}; this rapsim "
            f"reads version {FORMAT_VERSION}: retrain it"
        )
    missing = [k for k in _KEYS if k not in payload]
    if missing:
        raise HeadError(f"head checkpoint {target} is damaged: it lacks {', '.join(missing)}")
    try:
        payload["encoder"] = encoder_id(payload["encoder"])
    except HeadError as e:
        raise HeadError(f"head checkpoint {target} is damaged: {e}") from e
    return payload


def _describe(enc: Mapping[str, Any]) -> str:
    return f"{enc['name']} {enc['version']} ({enc['dim']}-d)"


def _short(e: BaseException) -> str:
    """The first sentence of an error, for a one-line message (the cause stays chained)."""
    lines = str(e).strip().splitlines()
    text = f"{type(e).__name__}: {lines[0].split('. ')[0]}" if lines else type(e).__name__
    return text if len(text) <= 80 else text[:77] + "..."
