"""The analyser: audio in, an :class:`AnalysisResult` out (matches, style, readings, image).

Load it once per process (``Analyzer.load``), call ``warmup()`` before the first request,
then ``analyze()`` / ``compare()`` as often as needed; it is not thread-safe (one per
worker process). It does not decode chat platforms' messages or keep any audio.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio.decode import Source
from .catalog.folder import Catalog
from .catalog.matching import Matcher
from .picture import image
from .pipeline import Features, Pipeline, PipelineOptions
from .style import features as style
from .types import IDENTITY_SHOWN, AnalysisResult, ComparisonResult, StyleProfile
from .voice.base import Encoder
from .voice.encoders import DEFAULT_ENCODER, load_encoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalyzerOptions:
    top_k: int = 5
    image: bool = True
    # An artist the member practises toward: scored and ranked from the same similarities
    # as the top matches; the image compares with them. Unknown names are ignored.
    target: str = ""
    language: str = "en"  # of the image's labels ("en", "ko")

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= 50:
            raise ValueError("top_k must be within 1..50")


def _warmup_voice(seconds: float = 4.0, sr: int = 16_000) -> np.ndarray:
    """A buzzy 140 Hz tone in 4 Hz bursts: harmonic like a voice, so every stage runs."""
    import scipy.signal

    t = np.arange(int(seconds * sr)) / sr
    buzz = scipy.signal.sawtooth(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 4 * t) > -0.3)
    noise = 0.01 * np.random.default_rng(0).standard_normal(t.size)
    return (0.3 * buzz + noise).astype(np.float32)


class Analyzer:
    """Matches recordings against one catalogue with one encoder."""

    def __init__(self, catalog: Catalog, pipeline: Pipeline) -> None:
        catalog.check_encoder(pipeline.encoder.name, pipeline.encoder.version)
        self.catalog = catalog
        self.pipeline = pipeline
        self.matcher = Matcher(catalog)

    @classmethod
    def load(
        cls,
        catalog_dir: str | Path,
        encoder: Encoder | str = DEFAULT_ENCODER,
        options: PipelineOptions | None = None,
    ) -> Analyzer:
        catalog = Catalog.load(catalog_dir)  # fail on a bad catalogue before loading a model
        enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
        return cls(catalog, Pipeline(enc, options))

    def warmup(self) -> None:
        """Run every stage once on synthetic audio (numba JIT, torch, matplotlib)."""
        t = time.perf_counter()
        self.pipeline.warmup()
        feats = self.pipeline.features_from_wav(_warmup_voice())
        self._result(feats, AnalyzerOptions())
        log.info("analyser warm in %.1f s", time.perf_counter() - t)

    # ---- public calls ------------------------------------------------------------------
    def features(self, source: Source) -> Features:
        """Embedding, style and spectrogram of one recording (what a bot may keep)."""
        return self.pipeline.features(source)

    def analyze(self, source: Source, options: AnalyzerOptions | None = None) -> AnalysisResult:
        return self.analyze_features(self.features(source), options)

    def analyze_features(
        self, feats: Features, options: AnalyzerOptions | None = None
    ) -> AnalysisResult:
        return self._result(feats, options or AnalyzerOptions())

    def compare(
        self, a: Source, b: Source, *, labels: tuple[str, str] = ("A", "B"), render: bool = True
    ) -> ComparisonResult:
        return self.compare_features(
            self.features(a), self.features(b), labels=labels, render=render
        )

    def compare_features(
        self,
        fa: Features,
        fb: Features,
        *,
        labels: tuple[str, str] = ("A", "B"),
        render: bool = True,
        language: str = "en",
    ) -> ComparisonResult:
        opts = AnalyzerOptions(image=False)
        ra, rb = self._result(fa, opts), self._result(fb, opts)
        score, identity, sim = self.matcher.pair(fa.embedding, fb.embedding)
        png = (
            image.render_comparison(
                labels[0],
                fa.mel,
                fa.style,
                labels[1],
                fb.mel,
                fb.style,
                score,
                same_voice=identity >= IDENTITY_SHOWN,
                language=language,
            )
            if render
            else None
        )
        return ComparisonResult(
            score=score, similarity=sim, identity=identity, a=ra, b=rb, image_png=png
        )

    def artist_style(self, artist: str) -> StyleProfile:
        return self.catalog.artist_style(self.catalog.artists.index(artist))

    # ---- internals ---------------------------------------------------------------------
    def _result(self, feats: Features, options: AnalyzerOptions) -> AnalysisResult:
        timings = dict(feats.timings_ms)
        t = time.perf_counter()
        sims = self.matcher.artist_similarities(feats.embedding)
        matches = self.matcher.ranked(sims, options.top_k)
        target, target_rank = None, 0
        if options.target in self.catalog.artists:
            target, target_rank = self.matcher.standing(sims, options.target, feats.embedding)
        scores = tuple(float(s) for s in self.matcher.resemblance.score(sims))
        timings["match"] = (time.perf_counter() - t) * 1000
        top = self.catalog.artists.index(matches[0].artist)
        top_style = self.catalog.artist_style(top)
        readings = style.describe(feats.style, self.catalog.styles, top_style, matches[0].artist)
        focus = self.catalog.artists.index(target.artist) if target else top
        focus_style = self.catalog.artist_style(focus) if target else top_style
        png = None
        if options.image:
            t = time.perf_counter()
            png = image.render_analysis(
                feats.mel,
                feats.style,
                matches,
                self.catalog.refs.get(focus),
                focus_style,
                language=options.language,
                target=image.TargetView(target, target_rank, len(scores)) if target else None,
                rhythm=feats.rhythm,
            )
            timings["image"] = (time.perf_counter() - t) * 1000
        return AnalysisResult(
            matches=matches,
            style=feats.style,
            readings=readings,
            top_artist_style=top_style,
            embedding=feats.embedding,
            spectrogram=feats.mel,
            duration_seconds=feats.duration_seconds,
            voiced_seconds=feats.voiced_seconds,
            warnings=feats.warnings,
            image_png=png,
            timings_ms=timings,
            target=target,
            target_rank=target_rank,
            target_style=focus_style if target else None,
            artist_scores=scores,
            rhythm=feats.rhythm,
        )
