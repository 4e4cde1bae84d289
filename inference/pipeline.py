"""One recording in, its features out: decode, prepare, embed, measure style, draw a mel.

The same code turns a member's note and a catalogue clip into :class:`Features`, so both
sides of a match are processed identically. Timings per stage are recorded for the
latency benchmark. It knows nothing about catalogues or matching.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from . import image, style
from .audio import DecodedAudio, Source, decode
from .constants import MAX_DECODE_SECONDS, SAMPLE_RATE
from .encoders import Encoder
from .preprocess import PreparedAudio, prepare
from .runtime import limit_threads
from .types import StyleProfile

log = logging.getLogger(__name__)

CLIPPING_NOTE_FRACTION = 0.001  # above 0.1 % full-scale samples, tell the member


@dataclass(frozen=True)
class PipelineOptions:
    """How audio is turned into features (validated on construction)."""

    max_decode_seconds: float = MAX_DECODE_SECONDS
    suppress_beat: bool = False  # off: the accuracy benchmark found it does not help
    threads: int | None = None  # torch threads; None: every usable core (1 per pool worker)

    def __post_init__(self) -> None:
        if not 1.0 <= self.max_decode_seconds <= 3600.0:
            raise ValueError("max_decode_seconds must be within 1..3600")
        if self.threads is not None and self.threads < 1:
            raise ValueError("threads must be at least 1")


@dataclass(frozen=True)
class Features:
    """What the matcher, the explainer and the image need from one recording."""

    embedding: np.ndarray = field(repr=False)  # float32 (dim,), L2-normalised, encoder space
    style: StyleProfile
    mel: np.ndarray = field(repr=False)  # uint8 (N_MELS, frames) of the analysed window
    duration_seconds: float
    voiced_seconds: float
    warnings: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """Holds the encoder; ``features()`` runs every stage on one recording."""

    def __init__(self, encoder: Encoder, options: PipelineOptions | None = None) -> None:
        self.encoder = encoder
        self.options = options or PipelineOptions()
        limit_threads(self.options.threads)

    def warmup(self) -> None:
        """JIT-compile librosa's numba code, load fonts, run the encoder once."""
        self.encoder.warmup()
        style.warmup()
        image.warmup()

    def decode(self, source: Source) -> DecodedAudio:
        return decode(source, max_seconds=self.options.max_decode_seconds)

    def features(self, source: Source) -> Features:
        t0 = time.perf_counter()
        decoded = self.decode(source)
        t1 = time.perf_counter()
        feats = self.features_from_wav(decoded.wav, _decode_warnings(decoded))
        feats.timings_ms["decode"] = (t1 - t0) * 1000
        return feats

    def features_from_wav(self, wav: np.ndarray, warnings: tuple[str, ...] = ()) -> Features:
        """Features of 16 kHz mono audio (a catalogue window or a decoded note)."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        prepared: PreparedAudio = prepare(wav, suppress_beat=self.options.suppress_beat)
        t = _lap(timings, "prepare", t)
        embedding = self.encoder.embed(prepared.voiced)
        t = _lap(timings, "embed", t)
        profile = style.compute_style(
            prepared.window, SAMPLE_RATE, prepared.speech_mask, gain_db=prepared.gain_db
        )
        t = _lap(timings, "style", t)
        mel = image.mel_image(prepared.window, SAMPLE_RATE)
        _lap(timings, "mel", t)
        return Features(
            embedding,
            profile,
            mel,
            wav.size / SAMPLE_RATE,
            prepared.voiced_seconds,
            warnings,
            timings,
        )

    def embedding_from_wav(self, wav: np.ndarray) -> np.ndarray:
        """Only the embedding (catalogue augmentation variants need nothing else)."""
        prepared = prepare(wav, suppress_beat=self.options.suppress_beat)
        return self.encoder.embed(prepared.voiced)


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = (now - since) * 1000
    return now


def _decode_warnings(decoded: DecodedAudio) -> tuple[str, ...]:
    notes = []
    if decoded.clipped_fraction > CLIPPING_NOTE_FRACTION:
        notes.append(
            f"the recording is clipped ({decoded.clipped_fraction:.1%} of samples at full "
            "scale): record a little quieter for a truer match"
        )
    if decoded.nonfinite_fraction:
        notes.append("some samples were invalid (NaN/inf) and were replaced with silence")
    if decoded.truncated:
        minutes = decoded.duration_seconds / 60
        notes.append(f"only the first {minutes:.0f} min were read")
    return tuple(notes)
