"""Voice encoders: 16 kHz mono audio in, one L2-normalised float32 embedding out.

The :class:`~inference.voice.base.Encoder` protocol is all the rest of the pipeline
knows about a model.
Resemblyzer's pretrained speaker encoder (weights ship in its wheel) is the default;
HuBERT (``inference.voice.hubert``) is imported only when asked for, because importing
transformers costs seconds.

This module does not decode, normalise or cut audio: callers hand it voiced 16 kHz audio.
"""

from __future__ import annotations

import logging

import numpy as np

from ..constants import SAMPLE_RATE
from ..errors import EncoderError
from .base import Encoder, l2_normalize

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "resemblyzer"


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
