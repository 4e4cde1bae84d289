"""Rap Simulator inference: audio in, the artists it sounds like (and why) out.

The public names below are the whole API the CLI, the bots and the training kit use;
nothing outside ``inference`` imports its modules directly.

    from inference import Analyzer
    analyzer = Analyzer.load("catalog/")      # or Analyzer(demo_catalog(pipe), pipe)
    analyzer.warmup()
    result = analyzer.analyze("note.ogg")     # or raw bytes from a chat attachment
"""

from __future__ import annotations

from .analyzer import Analyzer, AnalyzerOptions
from .audio import DecodedAudio, decode
from .build import BUILD_CACHE, BuildReport, add_clips, build_catalog, refit_matching
from .catalog import ArtistInfo, Catalog, atomic_write
from .demo import SAMPLE_NOTE, demo_catalog
from .encoders import DEFAULT_ENCODER, Encoder, l2_normalize, load_encoder
from .errors import (
    AudioDecodeError,
    AudioTooShortError,
    CatalogError,
    EncoderError,
    NoVoiceError,
    RapsimError,
)
from .pipeline import Features, Pipeline, PipelineOptions
from .resemblance import artist_words, pair_words
from .style_text import PERCENT, UNITS, style_label, style_value
from .types import (
    STYLE_DISPLAY,
    AnalysisResult,
    ComparisonResult,
    Match,
    StyleProfile,
    format_style_value,
)

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
