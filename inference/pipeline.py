"""One recording in, its features out: decode, prepare, embed, measure style, draw a mel.

The same code turns a member's note and a catalogue clip into :class:`Features`, so both
sides of a match are processed identically. Timings per stage are recorded for the
latency benchmark. It knows nothing about catalogues or matching.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from i18n import N_, Text

from .audio.decode import DecodedAudio, Source, decode
from .audio.demucs_sep import load_separator
from .audio.prepare import PreparedAudio, prepare
from .constants import MAX_DECODE_SECONDS, SAMPLE_RATE
from .picture import image
from .rhythm import measure as measure_rhythm
from .rhythm import warmup as rhythm_warmup
from .runtime import limit_threads
from .style import features as style
from .types import Rhythm, StyleProfile
from .voice.base import Encoder, embed_many

log = logging.getLogger(__name__)

CLIPPING_NOTE_FRACTION = 0.001  # above 0.1 % full-scale samples, tell the member


@dataclass(frozen=True)
class PipelineOptions:
    """How audio is turned into features (validated on construction)."""

    max_decode_seconds: float = MAX_DECODE_SECONDS
    suppress_beat: bool = False  # off: the accuracy benchmark found it does not help
    isolate: bool = True  # a note over a beat: the voice isolated from it (the separator)
    separator: str = ""  # which: "" the bundled one, "demucs:<folder>" (audio.demucs_sep)
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
    rhythm: Rhythm | None = None  # timing on the beat's grid or the own pulse


_Staged = tuple[DecodedAudio, PreparedAudio, dict[str, float]]


class Pipeline:
    """Holds the encoder; ``features()`` runs every stage on one recording."""

    def __init__(self, encoder: Encoder, options: PipelineOptions | None = None) -> None:
        self.encoder = encoder
        self.options = options or PipelineOptions()
        limit_threads(self.options.threads)
        self.separator = load_separator(self.options.separator) if self.options.isolate else None

    def warmup(self) -> None:
        """JIT-compile librosa's numba code, load fonts, run the encoder once."""
        self.encoder.warmup()
        if self.separator is not None:
            self.separator.warmup()
        style.warmup()
        rhythm_warmup()
        image.warmup()

    def decode(self, source: Source) -> DecodedAudio:
        return decode(source, max_seconds=self.options.max_decode_seconds)

    def prepare(self, wav: np.ndarray) -> PreparedAudio:
        """The analysis window of 16 kHz audio: the voice found, isolated from a beat."""
        return prepare(wav, suppress_beat=self.options.suppress_beat, separator=self.separator)

    def features(self, source: Source) -> Features:
        t0 = time.perf_counter()
        decoded = self.decode(source)
        t1 = time.perf_counter()
        feats = self.features_from_wav(decoded.wav, _decode_warnings(decoded))
        feats.timings_ms["decode"] = (t1 - t0) * 1000
        return feats

    def features_from_wav(
        self, wav: np.ndarray, warnings: tuple[str, ...] = (), *, rhythm: bool = True
    ) -> Features:
        """Features of 16 kHz mono audio (a catalogue window or a decoded note); a
        catalogue build needs no ``rhythm``."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        prepared: PreparedAudio = self.prepare(wav)
        t = _lap(timings, "prepare", t)
        embedding = self.encoder.embed(prepared.voiced)
        _lap(timings, "embed", t)
        return self._finish(wav, prepared, embedding, warnings, timings, rhythm=rhythm)

    def features_batch(
        self, sources: Sequence[Source], threads: int = 4
    ) -> list[Features | Exception]:
        """Features of several recordings with one encoder call for all of them.

        For a GPU worker: decoding, preparation, style and mel run on ``threads`` CPU
        threads, the embeddings in one batched forward pass (``embed_many``). Each item is
        the same as ``features(source)`` would give (within the encoder's batching
        tolerance), or the exception that source raised (a bad note fails only itself).
        """
        with ThreadPoolExecutor(max(1, min(threads, len(sources)))) as pool:
            staged = list(pool.map(self._staged, sources))
            failed = {i: s for i, s in enumerate(staged) if isinstance(s, Exception)}
            ready = [(i, s) for i, s in enumerate(staged) if not isinstance(s, Exception)]
            t = time.perf_counter()
            vectors = embed_many(self.encoder, [s[1].voiced for _, s in ready])
            embed_ms = (time.perf_counter() - t) * 1000 / max(1, len(ready))
            futures = {}
            for (i, (decoded, prepared, timings)), vector in zip(ready, vectors, strict=True):
                timings["embed"] = embed_ms  # the batch's time, shared out
                warnings = _decode_warnings(decoded)
                futures[i] = pool.submit(
                    self._finish, decoded.wav, prepared, vector, warnings, timings
                )
            return [failed[i] if i in failed else _outcome(futures[i]) for i in range(len(staged))]

    def _staged(self, source: Source) -> _Staged | Exception:
        try:
            timings: dict[str, float] = {}
            t = time.perf_counter()
            decoded = self.decode(source)
            t = _lap(timings, "decode", t)
            prepared = self.prepare(decoded.wav)
            _lap(timings, "prepare", t)
            return decoded, prepared, timings
        except Exception as e:  # returned, not raised: it belongs to this source only
            return e

    def _finish(
        self,
        wav: np.ndarray,
        prepared: PreparedAudio,
        embedding: np.ndarray,
        warnings: tuple[str, ...],
        timings: dict[str, float],
        *,
        rhythm: bool = True,
    ) -> Features:
        t = time.perf_counter()
        profile = style.compute_style(
            prepared.window,
            SAMPLE_RATE,
            prepared.speech_mask,
            gain_db=prepared.gain_db,
            beat=prepared.beat,
        )
        t = _lap(timings, "style", t)
        timing = None
        if rhythm:
            timing = measure_rhythm(prepared.window, prepared.speech_mask, prepared.beat)
            if timing is not None and timing.grid == "beat":  # one tempo in a reply: the grid's
                profile = dataclasses.replace(profile, tempo_bpm=round(timing.bpm, 2))
            t = _lap(timings, "rhythm", t)
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
            timing,
        )

    def embedding_from_wav(self, wav: np.ndarray) -> np.ndarray:
        """Only the embedding (catalogue augmentation variants need nothing else)."""
        prepared = self.prepare(wav)
        return self.encoder.embed(prepared.voiced)


def _outcome(future: Future[Features]) -> Features | Exception:
    try:
        return future.result()
    except Exception as e:
        return e


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = (now - since) * 1000
    return now


def _decode_warnings(decoded: DecodedAudio) -> tuple[str, ...]:
    # Text: English here, said again in a member's language by the bot's worker.
    notes: list[str] = []
    if decoded.clipped_fraction > CLIPPING_NOTE_FRACTION:
        template = N_(
            "the recording is clipped ({share} of samples at full scale): "
            "record a little quieter for a truer match"
        )
        notes.append(Text(template, share=f"{decoded.clipped_fraction:.1%}"))
    if decoded.nonfinite_fraction:
        notes.append(Text(N_("some samples were invalid (NaN/inf) and were replaced with silence")))
    if decoded.truncated:
        minutes = f"{decoded.duration_seconds / 60:.0f}"
        notes.append(Text(N_("only the first {minutes} min were read"), minutes=minutes))
    return tuple(notes)
