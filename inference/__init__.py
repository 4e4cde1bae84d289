"""Rap Simulator inference: audio in, the artists it sounds like (and why) out.

Rooms, by stage of a note (imports only go down; ``tests/test_layout.py`` checks it):
``audio/`` (decode, voice detection, level) → ``voice/`` (encoders) and ``style/``
(features and their words) → ``catalog/`` (the catalogue folder, matching, resemblance
scales) → ``picture/`` (the images) → ``pipeline`` and ``analyzer`` (a note end to end)
→ ``build/`` (making a catalogue: windows, augmentation, parallel embedding) → ``demo``.
Shared below them all: ``constants``, ``errors``, ``types``, ``runtime``.

The public names below are the API the CLI, the bots' workers and the training kit use;
they stay stable when modules move (tests and benchmarks may reach inside).

    from inference import Analyzer
    analyzer = Analyzer.load("catalog/")      # or Analyzer(demo_catalog(pipe), pipe)
    analyzer.warmup()
    result = analyzer.analyze("note.ogg")     # or raw bytes from a chat attachment
"""

from __future__ import annotations

from .analyzer import Analyzer, AnalyzerOptions
from .audio.decode import DecodedAudio, decode
from .build.builder import BUILD_CACHE, BuildReport, add_clips, build_catalog, refit_matching
from .catalog.folder import ArtistInfo, Catalog, atomic_write
from .catalog.resemblance import artist_words, pair_words
from .demo import SAMPLE_NOTE, demo_catalog
from .errors import (
    AudioDecodeError,
    AudioTooShortError,
    BeatWithoutVoiceError,
    CatalogError,
    EncoderError,
    NoVoiceError,
    RapsimError,
)
from .pipeline import Features, Pipeline, PipelineOptions
from .style.words import PERCENT, UNITS, style_label, style_value
from .types import (
    STYLE_DISPLAY,
    AnalysisResult,
    ComparisonResult,
    Match,
    StyleProfile,
    format_style_value,
)
from .voice.base import Encoder, l2_normalize
from .voice.encoders import DEFAULT_ENCODER, load_encoder

__all__ = [
    "BUILD_CACHE",
    "DEFAULT_ENCODER",
    "PERCENT",
    "SAMPLE_NOTE",
    "STYLE_DISPLAY",
    "UNITS",
    "AnalysisResult",
    "Analyzer",
    "AnalyzerOptions",
    "ArtistInfo",
    "AudioDecodeError",
    "AudioTooShortError",
    "BeatWithoutVoiceError",
    "BuildReport",
    "Catalog",
    "CatalogError",
    "ComparisonResult",
    "DecodedAudio",
    "Encoder",
    "EncoderError",
    "Features",
    "Match",
    "NoVoiceError",
    "Pipeline",
    "PipelineOptions",
    "RapsimError",
    "StyleProfile",
    "add_clips",
    "artist_words",
    "atomic_write",
    "build_catalog",
    "decode",
    "demo_catalog",
    "format_style_value",
    "l2_normalize",
    "load_encoder",
    "pair_words",
    "refit_matching",
    "style_label",
    "style_value",
]
