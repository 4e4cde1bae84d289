"""What a voice encoder is: the :class:`Encoder` protocol, batched embedding over it, and
L2 normalisation of embeddings.

Every encoder (``encoders``: Resemblyzer; ``hubert``) and everything that searches
embeddings (``inference.catalog``) builds on this module; it loads no model itself.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Encoder", "embed_many", "l2_normalize"]


@runtime_checkable
class Encoder(Protocol):
    """A voice embedding model.

    ``name`` and ``version`` identify the embedding space: a catalogue built with one
    (name, version) cannot be searched with another.
    """

    name: str
    version: str
    dim: int
    spec: str  # what load_encoder() takes to make this encoder again (build worker processes)

    def embed(self, wav: np.ndarray) -> np.ndarray:
        """Embed one recording.

        wav: float32 (n_samples,) mono at 16 kHz, voiced audio (silence already cut).
        Returns float32 (dim,), L2 norm 1.
        """
        ...

    def warmup(self) -> None:
        """Run once on dummy audio so the first real request pays no lazy initialisation."""
        ...


def embed_many(encoder: Encoder, wavs: list[np.ndarray]) -> np.ndarray:
    """Embeddings of several recordings, float32 (n, dim): one batched call when the encoder
    has ``embed_batch`` (HuBERT: one transformer pass, what a GPU wants), else one by one."""
    if not wavs:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    batch = getattr(encoder, "embed_batch", None)
    if batch is not None and len(wavs) > 1:
        return np.asarray(batch(wavs), dtype=np.float32)
    return np.stack([encoder.embed(w) for w in wavs]).astype(np.float32, copy=False)


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32); an all-zero row stays zero."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)
