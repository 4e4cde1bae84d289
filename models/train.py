"""Training a head on frozen encoder embeddings: group split, P x K batches, early stopping.

``train_head`` takes embeddings already computed (n, dim), one artist id and one recording
id per row, and returns the trained head with its loss history. It holds out whole
recordings for validation, so that the stopping point rewards telling artists apart on
recordings the head never saw, not memorising a recording's sound.

Runs on the CPU, in the calling thread. It does not compute embeddings, read a catalogue,
save files (``models.checkpoint``) or score retrieval quality; those belong to the CLI and
the evaluation code.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .errors import HeadError
from .heads import Head, HeadConfig, build_head, head_loss

log = logging.getLogger(__name__)

MIN_DELTA = 1e-5  # a validation loss must beat the best by this much to count as better


@dataclass(frozen=True)
class EpochLoss:
    epoch: int  # 1-based
    train_loss: float  # mean over the epoch's batches, in training mode (dropout on)
    val_loss: float  # mean over fixed validation batches, eval mode

    def to_dict(self) -> dict[str, float | int]:
        return {"epoch": self.epoch, "train_loss": self.train_loss, "val_loss": self.val_loss}


@dataclass(frozen=True, eq=False)  # holds a module and arrays: compare fields yourself
class TrainResult:
    head: Head  # eval mode, weights of the best validation epoch
    config: HeadConfig
    encoder: dict[str, Any]  # name, version, dim of the embeddings it was trained on
    history: tuple[EpochLoss, ...]
    best_epoch: int  # 1-based, into history
    best_val_loss: float
    seconds: float
    train_index: np.ndarray  # rows of X used for training
    val_index: np.ndarray  # rows of X held out (whole recordings) for early stopping

    @property
    def stopped_early(self) -> bool:
        return len(self.history) < self.config.epochs


def encoder_id(encoder: Mapping[str, Any]) -> dict[str, Any]:
    """{"name": str, "version": str, "dim": int} from an encoder description (a catalogue's
    ``encoder`` dict, or any mapping with those keys)."""
    try:
        return {
            "name": str(encoder["name"]),
            "version": str(encoder["version"]),
            "dim": int(encoder["dim"]),
        }
    except (KeyError, TypeError, ValueError) as e:
        raise HeadError(f"an encoder is described by name, version and dim; got {encoder!r}") from e


# ---- validation split --------------------------------------------------------------------
def split_by_group(
    labels: np.ndarray, groups: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows): about ``val_fraction`` of the recordings (groups) go
    to validation, stratified by artist, never one recording on both sides. Among the
    folds of a ``StratifiedGroupKFold`` the one whose validation side covers the most
    artists wins (ties: the first), so the validation loss sees as many artists as it can.
    """
    from sklearn.model_selection import StratifiedGroupKFold  # deferred: training only

    n_splits = max(2, round(1.0 / val_fraction))
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise HeadError(
            f"training needs at least {n_splits} recordings to hold {val_fraction:.0%} of them "
            f"out for validation; got {n_groups}"
        )
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # artists with fewer recordings than folds are normal here: they land on one side
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(folds.split(np.zeros(len(labels)), labels, groups))
    best = max(splits, key=lambda s: len(np.unique(labels[s[1]])))  # max keeps the first
    return np.sort(best[0]), np.sort(best[1])


# ---- P x K batches -----------------------------------------------------------------------
class PKSampler:
    """Batches of P artists x K clips, so that every batch holds positives for every artist
    in it. Artists take turns (a shuffled round robin), so each appears about equally
    often; an artist's K clips are drawn round robin over its recordings, so positives
    come from different recordings where the artist has several (a clip repeats only when
    the artist has fewer than K). P = batch_size // clips_per_artist, at most the number
    of artists; with few artists K grows to fill the batch. An epoch has enough batches to
    show about every clip once. ``batches(epoch)`` depends only on (seed, epoch)."""

    def __init__(
        self,
        labels: np.ndarray,
        groups: np.ndarray,
        *,
        batch_size: int,
        clips_per_artist: int,
        seed: int,
    ) -> None:
        self.seed = seed
        self.artists = np.unique(labels)
        self.p = max(1, min(len(self.artists), batch_size // clips_per_artist))
        self.k = max(clips_per_artist, batch_size // self.p)
        self.n_batches = max(1, math.ceil(len(labels) / (self.p * self.k)))
        self._rows = {int(a): np.flatnonzero(labels == a) for a in self.artists}
        self._groups = groups

    def batches(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        streams = {a: self._stream(rows, rng) for a, rows in self._rows.items()}
        queue: list[int] = []
        out = []
        for _ in range(self.n_batches):
            chosen: list[int] = []
            deferred: list[int] = []
            while len(chosen) < self.p:
                if not queue:
                    queue.extend(int(a) for a in rng.permutation(self.artists))
                a = queue.pop(0)
                (deferred if a in chosen else chosen).append(a)
            queue = deferred + queue
            out.append(np.array([next(streams[a]) for a in chosen for _ in range(self.k)]))
        return out

    def _stream(self, rows: np.ndarray, rng: np.random.Generator) -> Iterator[int]:
        """Endless clips of one artist: each pass shuffles its recordings and their clips
        and deals them round robin over the recordings."""
        while True:
            by_group = [
                rng.permutation(rows[self._groups[rows] == g])
                for g in rng.permutation(np.unique(self._groups[rows]))
            ]
            longest = max(len(b) for b in by_group)
            for j in range(longest):
                for b in by_group:
                    if j < len(b):
                        yield int(b[j])


# ---- training ----------------------------------------------------------------------------
def train_head(
    config: HeadConfig,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    encoder: Mapping[str, Any],
    progress: Callable[[EpochLoss], None] | None = None,
) -> TrainResult:
    """Train a head of ``config`` on embeddings ``X`` float32 (n, input_dim), artist ids
    ``y`` int (n,), and recording ids ``groups`` (n,) (any comparable values).

    A catalogue's gallery augmentations must carry their recording's id (a
    ``Clip.source``), so they land on the same side of the split as the recording.
    ``encoder`` ({"name", "version", "dim"}) says what made ``X``; it is kept with the
    result so a checkpoint can refuse other encoders' embeddings. ``progress`` is called
    after every epoch. Deterministic for a given ``config.seed`` (and thread count); the
    caller's torch RNG state and determinism setting are left as they were.
    Raises HeadError when the data cannot be split or does not fit the config.
    """
    x, labels, groups = _check_inputs(config, X, y, groups, encoder)
    start = time.perf_counter()
    train_idx, val_idx = split_by_group(labels, groups, config.val_fraction, config.seed)
    if len(np.unique(labels[train_idx])) < 2:
        raise HeadError("training needs recordings of at least two artists on its training side")
    sampler = PKSampler(
        labels[train_idx],
        groups[train_idx],
        batch_size=config.batch_size,
        clips_per_artist=config.clips_per_artist,
        seed=config.seed,
    )
    val_batches = PKSampler(
        labels[val_idx],
        groups[val_idx],
        batch_size=config.batch_size,
        clips_per_artist=config.clips_per_artist,
        seed=config.seed + 1,
    ).batches(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    with torch.random.fork_rng(devices=[]), _deterministic():
        torch.manual_seed(config.seed)
        head = build_head(config)
        optimiser = torch.optim.AdamW(
            head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        history: list[EpochLoss] = []
        best_loss, best_epoch, last_gain, best_state = math.inf, 0, 0, _copy_state(head)
        for epoch in range(1, config.epochs + 1):
            batches = [train_idx[b] for b in sampler.batches(epoch)]
            train = _train_epoch(head, optimiser, config, xt, yt, batches)
            val = _val_loss(head, config, xt, yt, [val_idx[b] for b in val_batches])
            history.append(EpochLoss(epoch, train, val))
            log.debug("epoch %d: train %.4f, val %.4f", epoch, history[-1].train_loss, val)
            if progress is not None:
                progress(history[-1])
            if val < best_loss - MIN_DELTA:
                last_gain = epoch
            if val <= best_loss:  # a tie keeps the later weights (a loss stuck at 0)
                best_loss, best_epoch, best_state = val, epoch, _copy_state(head)
            if epoch - last_gain >= config.patience:
                break
    head.load_state_dict(best_state)
    head.eval()
    seconds = time.perf_counter() - start
    log.info(
        "%s head (%s): best epoch %d of %d, val loss %.4f, %.1f s",
        config.kind,
        config.loss,
        best_epoch,
        len(history),
        best_loss,
        seconds,
    )
    return TrainResult(
        head=head,
        config=config,
        encoder=encoder_id(encoder),
        history=tuple(history),
        best_epoch=best_epoch,
        best_val_loss=best_loss,
        seconds=seconds,
        train_index=train_idx,
        val_index=val_idx,
    )


def _train_epoch(
    head: Head,
    optimiser: torch.optim.Optimizer,
    config: HeadConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    batches: list[np.ndarray],
) -> float:
    head.train()
    losses = []
    for rows in batches:
        r = torch.from_numpy(rows)
        loss = head_loss(head, config, x[r], y[r])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def _val_loss(
    head: Head, config: HeadConfig, x: torch.Tensor, y: torch.Tensor, batches: list[np.ndarray]
) -> float:
    head.eval()
    with torch.no_grad():
        losses = []
        for rows in batches:
            r = torch.from_numpy(rows)
            losses.append(float(head_loss(head, config, x[r], y[r])))
    return float(np.mean(losses))


def _copy_state(head: Head) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in head.state_dict().items()}


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """torch deterministic algorithms on, then back to the caller's setting."""
    was, warn_only = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn_only)


def _check_inputs(
    config: HeadConfig,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    encoder: Mapping[str, Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    enc = encoder_id(encoder)
    x = np.ascontiguousarray(X, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != config.input_dim or enc["dim"] != config.input_dim:
        raise HeadError(
            f"the head takes {config.input_dim}-d embeddings; got an array of shape {x.shape} "
            f"from {enc['dim']}-d encoder {enc['name']}"
        )
    if not np.isfinite(x).all():
        raise HeadError("the embeddings hold NaN or infinite values")
    labels = np.asarray(y)
    groups = np.asarray(groups)
    if labels.shape != (len(x),) or groups.shape != (len(x),):
        raise HeadError(
            f"need one artist id and one recording id per embedding ({len(x)}); got "
            f"{labels.shape} and {groups.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer) or (len(labels) and labels.min() < 0):
        raise HeadError("artist ids must be non-negative integers")
    labels = labels.astype(np.int64)
    if config.artists and len(labels) and labels.max() >= len(config.artists):
        raise HeadError(
            f"artist id {labels.max()} is past the config's {len(config.artists)} artists"
        )
    return x, labels, groups
