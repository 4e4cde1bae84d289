"""Voice encoders: 16 kHz mono audio in, one L2-normalised float32 embedding out.

The :class:`Encoder` protocol is all the rest of the pipeline knows about a model.
Resemblyzer's pretrained speaker encoder (weights ship in its wheel) is the default;
HuBERT (``inference.hubert``) is imported only when asked for, because importing
transformers costs seconds.

This module does not decode, normalise or cut audio: callers hand it voiced 16 kHz audio.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

import numpy as np

from .constants import SAMPLE_RATE
from .errors import EncoderError

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "resemblyzer"


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


class ResemblyzerEncoder:
    """Resemblyzer's GE2E speaker encoder (3-layer LSTM, 256-d, weights in the wheel).

    An utterance embedding is the normalised mean of partial embeddings over 1.6 s
    windows with 50 % overlap (Resemblyzer's own ``embed_utterance``).
    """

    name = "resemblyzer"
    spec = "resemblyzer"
    dim = 256

    def __init__(self, device: str = "cpu") -> None:
        try:
            import resemblyzer  # noqa: F401  (imports torch: seconds)
            from resemblyzer import VoiceEncoder
        except ImportError as e:  # pragma: no cover - an install problem, not a code path
            raise EncoderError(
                f"cannot import resemblyzer ({e}); run scripts/setup.sh, which installs it "
                "with webrtcvad-wheels"
            ) from e
        from importlib.metadata import version

        self.version = f"{version('resemblyzer')}"
        self._model = VoiceEncoder(device, verbose=False)

    def embed(self, wav: np.ndarray) -> np.ndarray:
        wav = np.ascontiguousarray(wav, dtype=np.float32)
        if wav.ndim != 1 or wav.size == 0:
            raise ValueError("embed() takes a non-empty 1-D waveform")
        emb = self._model.embed_utterance(wav)
        return l2_normalize(emb)

    def warmup(self) -> None:
        rng = np.random.default_rng(0)
        self.embed((0.05 * rng.standard_normal(3 * SAMPLE_RATE)).astype(np.float32))


def load_encoder(spec: str = DEFAULT_ENCODER, device: str = "cpu") -> Encoder:
    """Make an encoder from a spec: ``resemblyzer`` or ``hubert:<hub id or local folder>``.

    ``hubert`` alone means ``hubert:facebook/hubert-base-ls960`` (needs the weights
    downloaded beforehand, or network access to the hub). ``device``: a torch device
    ("cpu", "cuda", "cuda:1").
    """
    spec = (spec or DEFAULT_ENCODER).strip()
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if kind == "resemblyzer":
        return ResemblyzerEncoder(device)
    if kind == "hubert":
        from .hubert import HubertEncoder  # deferred: transformers import takes ~5 s

        return HubertEncoder(arg or "facebook/hubert-base-ls960", device=device)
    raise EncoderError(f"unknown encoder {spec!r}: use 'resemblyzer' or 'hubert:<id or folder>'")
