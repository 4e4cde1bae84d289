"""Trainable heads over frozen encoder embeddings: their options, the modules, the losses.

A head maps an encoder embedding (``input_dim``, L2-normalised) to a smaller space where
clips of one artist sit together whatever the recording, microphone or room:

* ``SiameseHead`` is trained with a metric loss (contrastive, batch-hard triplet or
  supervised contrastive) and works for artists it never saw (open set), like the
  catalogue's LDA projection (``inference.catalog.matching``) but non-linear.
* ``ClassifierHead`` is trained with softmax over a fixed artist list; its trunk output
  (``embed``) is a matching space too, and its logits give artist probabilities.

Both output L2-normalised vectors, so cosine similarity (inner product) ranks them.
This module holds no training loop (``models.train``) and no file format
(``models.checkpoint``); it never touches audio or a catalogue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import HeadError

KINDS = ("siamese", "classifier")
LOSSES = {"siamese": ("contrastive", "triplet", "supcon"), "classifier": ("softmax",)}
APPLY_BATCH = 1024  # rows per forward pass in apply_head / predict_proba


@dataclass(frozen=True, kw_only=True)
class HeadConfig:
    """Everything needed to rebuild and retrain a head; saved inside every checkpoint.

    ``margin`` is in cosine distance (1 - cosine, 0..2). Contrastive loss pushes clips of
    different artists at least ``margin`` apart and pulls clips of one artist together;
    batch-hard triplet wants each anchor's farthest positive ``margin`` closer than its
    nearest negative. The default 0.1 is the contrastive margin the origin project found
    best; the pull on positives does most of the work, the margin only keeps negatives
    from collapsing together. ``temperature`` is used by ``supcon`` only.

    ``loss`` left empty means the kind's default: ``contrastive`` for ``siamese``,
    ``softmax`` for ``classifier``. ``artists`` is the classifier's output order (required
    there, optional for a siamese head). A batch holds ``batch_size // clips_per_artist``
    artists with ``clips_per_artist`` clips each (see ``models.train``).
    """

    input_dim: int
    kind: str = "siamese"
    hidden_dim: int = 256
    output_dim: int = 128
    dropout: float = 0.1
    loss: str = ""
    margin: float = 0.1
    temperature: float = 0.1
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 100  # at most; early stopping usually ends sooner
    batch_size: int = 64
    clips_per_artist: int = 4
    val_fraction: float = 0.2  # share of recordings held out for early stopping
    patience: int = 8  # epochs without a better validation loss before stopping
    seed: int = 0
    artists: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "artists", tuple(self.artists))
        if self.kind not in KINDS:
            raise ValueError(f"head kind {self.kind!r} is unknown: use one of {', '.join(KINDS)}")
        if not self.loss:
            object.__setattr__(self, "loss", LOSSES[self.kind][0])
        if self.loss not in LOSSES[self.kind]:
            raise ValueError(
                f"loss {self.loss!r} does not fit a {self.kind} head: use one of "
                f"{', '.join(LOSSES[self.kind])}"
            )
        for name in ("input_dim", "hidden_dim", "output_dim", "epochs", "batch_size", "patience"):
            _check_int(name, getattr(self, name), low=1)
        _check_int("clips_per_artist", self.clips_per_artist, low=2)
        _check_int("seed", self.seed, low=0)
        if self.batch_size < 2 * self.clips_per_artist:
            raise ValueError(
                f"batch_size {self.batch_size} must hold at least two artists of "
                f"clips_per_artist={self.clips_per_artist} clips"
            )
        _check_range("dropout", self.dropout, 0.0, 1.0, high_open=True)
        _check_range("margin", self.margin, 0.0, 2.0, low_open=True)
        _check_range("val_fraction", self.val_fraction, 0.0, 0.5, low_open=True)
        _check_range("weight_decay", self.weight_decay, 0.0, float("inf"))
        for name in ("temperature", "learning_rate"):
            _check_range(name, getattr(self, name), 0.0, float("inf"), low_open=True)
        if not all(isinstance(a, str) and a for a in self.artists):
            raise ValueError("artists must be non-empty names")
        if len(set(self.artists)) != len(self.artists):
            raise ValueError("artists holds a name twice")
        if self.kind == "classifier" and len(self.artists) < 2:
            raise ValueError("a classifier head needs the list of at least two artists")

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (for ``torch.load(weights_only=True)`` and JSON)."""
        d = dataclasses.asdict(self)
        d["artists"] = list(self.artists)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HeadConfig:
        """Inverse of ``to_dict``; ValueError on unknown keys or invalid values."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown head config keys: {', '.join(unknown)}")
        try:
            return cls(**d)
        except TypeError as e:  # a required key is missing
            raise ValueError(str(e)) from e


def _check_int(name: str, value: object, *, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, not {value!r}")


def _check_range(
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok:
        v = float(value)  # type: ignore[arg-type]  # checked just above
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        bounds = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {bounds}, not {value!r}")


# ---- modules -----------------------------------------------------------------------------
def _trunk(config: HeadConfig) -> nn.Sequential:
    # LayerNorm, not BatchNorm: a clip's output must not depend on which clips share its
    # batch (P x K batches are far from the data's mix), and one clip alone must give the
    # same answer as a batch.
    return nn.Sequential(
        nn.Linear(config.input_dim, config.hidden_dim),
        nn.LayerNorm(config.hidden_dim),
        nn.GELU(),
        nn.Dropout(config.dropout),
        nn.Linear(config.hidden_dim, config.output_dim),
    )


class SiameseHead(nn.Module):
    """Projection MLP; ``forward`` and ``embed`` give L2-normalised (n, output_dim)."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.trunk = _trunk(config)

    def embed(self, x: Tensor) -> Tensor:
        return F.normalize(self.trunk(x), dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.embed(x)


class ClassifierHead(nn.Module):
    """The siamese trunk plus a linear layer to one logit per artist (``config.artists``)."""

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.trunk = _trunk(config)
        self.classify = nn.Linear(config.output_dim, len(config.artists))

    def embed(self, x: Tensor) -> Tensor:
        """L2-normalised trunk output (n, output_dim): the matching space."""
        return F.normalize(self.trunk(x), dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (n, n_artists)."""
        return self.classify(self.trunk(x))


Head = SiameseHead | ClassifierHead


def build_head(config: HeadConfig) -> Head:
    """A freshly initialised head (uses torch's global RNG: seed it first)."""
    return ClassifierHead(config) if config.kind == "classifier" else SiameseHead(config)


# ---- losses (z: L2-normalised (B, d); labels: (B,) artist ids) ----------------------------
def cosine_distances(z: Tensor) -> Tensor:
    """(B, B) 1 - cosine similarity of unit vectors, in [0, 2]."""
    return (1.0 - z @ z.T).clamp(0.0, 2.0)


def _pair_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """(positive, negative) boolean (B, B) masks; a clip is never its own positive."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    return torch.where(mask, values, torch.zeros_like(values)).sum() / mask.sum().clamp(min=1)


def contrastive_loss(z: Tensor, labels: Tensor, margin: float) -> Tensor:
    """Mean cosine distance of positive pairs + mean hinge ``relu(margin - d)`` of negative
    pairs, over all in-batch pairs. The two means are taken apart so that the many more
    negative pairs of a P x K batch do not drown the positives. 0 when every artist's
    clips coincide and every other artist is at least ``margin`` away."""
    d = cosine_distances(z)
    pos, neg = _pair_masks(labels)
    return _masked_mean(d, pos) + _masked_mean(F.relu(margin - d), neg)


def triplet_loss(z: Tensor, labels: Tensor, margin: float) -> Tensor:
    """Batch-hard triplet loss (Hermans et al., 2017): for each anchor with a positive and
    a negative in the batch, ``relu(d(farthest positive) - d(nearest negative) + margin)``,
    averaged over those anchors (0 when the batch has none)."""
    d = cosine_distances(z)
    pos, neg = _pair_masks(labels)
    valid = pos.any(dim=1) & neg.any(dim=1)
    if not bool(valid.any()):
        return z.sum() * 0.0
    hardest_pos = torch.where(pos, d, torch.full_like(d, -1.0)).max(dim=1).values
    hardest_neg = torch.where(neg, d, torch.full_like(d, 3.0)).min(dim=1).values
    return F.relu(hardest_pos - hardest_neg + margin)[valid].mean()


def supcon_loss(z: Tensor, labels: Tensor, temperature: float) -> Tensor:
    """Supervised contrastive loss (Khosla et al., 2020, L_out): for each anchor i with a
    positive, ``-mean over positives p of log(exp(z_i.z_p / t) / sum_{a != i} exp(z_i.z_a / t))``,
    averaged over those anchors."""
    pos, _ = _pair_masks(labels)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    logits = (z @ z.T / temperature).masked_fill(eye, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    n_pos = pos.sum(dim=1)
    has = n_pos > 0
    if not bool(has.any()):
        return z.sum() * 0.0
    per_anchor = torch.where(pos, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
    return -(per_anchor[has] / n_pos[has]).mean()


def head_loss(head: Head, config: HeadConfig, x: Tensor, labels: Tensor) -> Tensor:
    """The loss ``config.loss`` of ``head`` on one batch."""
    if config.loss == "softmax":
        return F.cross_entropy(head(x), labels)
    z = head.embed(x)
    if config.loss == "contrastive":
        return contrastive_loss(z, labels, config.margin)
    if config.loss == "triplet":
        return triplet_loss(z, labels, config.margin)
    return supcon_loss(z, labels, config.temperature)


# ---- applying a head (numpy in, numpy out) -----------------------------------------------
def _run(head: Head, x: np.ndarray, fn: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float32)
    single = arr.ndim == 1
    rows = arr[None, :] if single else arr
    width = head.trunk[0].in_features
    if rows.ndim != 2 or rows.shape[1] != width:
        raise HeadError(
            f"this head takes {width}-d encoder embeddings, not an array of shape {arr.shape}"
        )
    was_training = head.training
    head.eval()
    try:
        with torch.no_grad():
            parts = [
                getattr(head, fn)(torch.from_numpy(rows[i : i + APPLY_BATCH])).numpy()
                for i in range(0, max(len(rows), 1), APPLY_BATCH)  # an empty batch still runs
            ]
    finally:
        head.train(was_training)
    out = np.concatenate(parts)
    return out[0] if single else out


def apply_head(head: Head, x: np.ndarray) -> np.ndarray:
    """Encoder embeddings (n, input_dim) or (input_dim,) to head space: float32
    (n, output_dim) or (output_dim,), each row L2 norm 1. Batched, no grad, eval mode."""
    out = _run(head, x, "embed")
    norm = np.linalg.norm(out, axis=-1, keepdims=True)
    return (out / np.maximum(norm, 1e-12)).astype(np.float32)


def predict_proba(head: Head, x: np.ndarray) -> np.ndarray:
    """Artist probabilities of a classifier head: float32 (n, n_artists) rows summing to 1,
    columns in ``config.artists`` order."""
    if not isinstance(head, ClassifierHead):
        raise HeadError("this is a siamese head: it gives embeddings, not artist probabilities")
    logits = _run(head, x, "forward")
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
