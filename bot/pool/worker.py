"""The inside of an inference worker: :class:`WorkerCore`, and the pipe worker around it.

:class:`WorkerCore` loads the encoder and the catalogue once, warms every stage up (numba
JIT, torch, fonts), and turns jobs into the plain data of ``bot.jobs``, so nothing outside
a worker needs ``inference`` or torch. A member's mistake (not audio, no voice) is
answered as "rejected" with inference's own sentence; anything else is logged here with
its traceback and answered with a generic failure. Both transports use it: the local
pipe worker (:func:`worker_main`, started by ``bot.pool`` with spawn, one job at a time
until the pipe closes) and the broker worker (``bot.broker_worker``), which also runs
:meth:`WorkerCore.handle_batch` to embed waiting notes in one GPU pass.
"""

from __future__ import annotations

import logging
import signal
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from i18n import N_, say

from ..jobs import (
    PROFILE_MEL_POOL,
    Analysis,
    AnalyzeJob,
    ArtistEntry,
    CatalogInfo,
    CompareJob,
    Comparison,
    MatchOut,
    RhythmOut,
    StyleFeature,
    StyleLine,
    Voice,
)

log = logging.getLogger("rapsim.worker")

FAILED = N_("Something went wrong on our side while analysing that; please try again.")
# Inference words a refused note in English, with details; in another language the
# member reads the sentence of its kind (by class name, so this module needs no import).
_REFUSALS = {
    "AudioDecodeError": N_("the file could not be read as audio (empty, damaged or not audio)"),
    "AudioTooShortError": N_("the recording is too short: send at least a few seconds"),
    "NoVoiceError": N_("there is no rapping voice in it (only silence, a beat or noise)"),
    "BeatWithoutVoiceError": N_("I hear a beat but no voice: send a take of you rapping over it"),
}
_REFUSED = N_("that note could not be analysed")


def worker_main(conn: Connection, config: Any) -> None:
    """Process entry point: load, warm up, report ready, then serve jobs."""
    # Ctrl-C in a terminal reaches the whole process group; the parent stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=config.log_level, format="%(levelname)s %(name)s[%(process)d]: %(message)s"
    )
    from inference import RapsimError

    try:
        worker = WorkerCore(config)
    except Exception as e:  # a bad catalogue or encoder: the parent reports it
        if not isinstance(e, RapsimError):
            log.exception("worker failed to load")
        conn.send(("failed", f"the inference worker could not start: {e}"))
        return
    conn.send(("ready", (worker.catalog_info(), worker.catalog_id())))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the bot process is gone
        if message is None:
            return
        job_id, kind, payload = message
        conn.send((job_id, *worker.handle(kind, payload)))


class WorkerCore:
    """One loaded, warm analyser and the conversion of its results to ``bot.jobs`` data."""

    def __init__(self, config: Any) -> None:
        from inference import (
            Analyzer,
            Catalog,
            Pipeline,
            PipelineOptions,
            demo_catalog,
            load_encoder,
        )

        options = PipelineOptions(
            max_decode_seconds=config.max_note_seconds,
            threads=config.threads,
            separator=getattr(config, "separator", ""),
        )
        # load the catalogue first: a bad path fails before seconds of model loading
        catalog = Catalog.load(config.catalog) if config.catalog else None
        device = getattr(config, "device", "cpu")
        pipeline = Pipeline(load_encoder(config.encoder, device=device), options)
        self.analyzer = Analyzer(catalog or demo_catalog(pipeline), pipeline)
        self.analyzer.warmup()
        enc = self.analyzer.pipeline.encoder
        self.encoder = f"{enc.name} {enc.version}"

    def catalog_info(self) -> CatalogInfo:
        catalog = self.analyzer.catalog
        artists = tuple(
            ArtistEntry(a.name, a.clips, a.seconds, a.demo, _values(catalog.artist_style(i)))
            for i, a in enumerate(catalog.artist_infos())
        )
        return CatalogInfo(artists=artists, encoder=self.encoder, features=_features())

    def catalog_id(self) -> str:
        """Which catalogue this is, comparable across machines (its manifest's digest)."""
        from .catalog_id import catalog_id

        return catalog_id(self.analyzer.catalog.path)

    def handle_job(self, job: AnalyzeJob | CompareJob) -> tuple[str, Any]:
        return self.handle("analyze" if isinstance(job, AnalyzeJob) else "compare", job)

    def handle_batch(self, jobs: list[AnalyzeJob]) -> list[tuple[str, Any]]:
        """Analyse several notes with one encoder pass for all (a GPU worker's batch).

        Each answer is what ``handle("analyze", job)`` gives for that job alone; one bad
        note fails only itself.
        """
        from inference import RapsimError

        pipeline = self.analyzer.pipeline
        features = pipeline.features_batch([j.audio for j in jobs])
        answers: list[tuple[str, Any]] = []
        for job, feats in zip(jobs, features, strict=True):
            try:
                if isinstance(feats, Exception):
                    raise feats
                result = self.analyzer.analyze_features(feats, _options(job))
                answers.append(("ok", self.to_analysis(result, job.language)))
            except RapsimError as e:
                answers.append(("rejected", _refusal(e, job.language)))
            except Exception:
                log.exception("analyze job failed (in a batch of %d)", len(jobs))
                answers.append(("error", say(FAILED, job.language)))
        return answers

    def handle(self, kind: str, payload: Any) -> tuple[str, Any]:
        from inference import RapsimError

        language = getattr(payload, "language", "en")
        try:
            if kind == "analyze":
                return "ok", self.analyze(payload)
            if kind == "compare":
                return "ok", self.compare(payload)
            raise ValueError(f"unknown job kind {kind!r}")
        except RapsimError as e:
            return "rejected", _refusal(e, language)
        except Exception:
            log.exception("%s job failed", kind)
            return "error", say(FAILED, language)

    def analyze(self, job: AnalyzeJob) -> Analysis:
        r = self.analyzer.analyze(job.audio, _options(job))
        return self.to_analysis(r, job.language)

    def to_analysis(self, r: Any, language: str = "en") -> Analysis:
        """An ``inference`` AnalysisResult as plain ``bot.jobs`` data, worded in
        ``language``; the style lines compare with the target when there is one."""
        assert r.image_png is not None
        versus = r.target_style if r.target is not None else r.top_artist_style
        return Analysis(
            matches=tuple(_match_out(m, language) for m in r.matches),
            style_lines=_style_lines(r.style, versus, language),
            voice=Voice(
                embedding=np.asarray(r.embedding, dtype=np.float32),
                style=tuple(float(v) for v in r.style.as_array()),
                mel=_pool_time(r.spectrogram, PROFILE_MEL_POOL),
                encoder=self.encoder,
            ),
            image_png=r.image_png,
            duration_seconds=r.duration_seconds,
            voiced_seconds=r.voiced_seconds,
            warnings=tuple(say(w, language) for w in r.warnings),
            timings_ms=dict(r.timings_ms),
            target=_match_out(r.target, language) if r.target is not None else None,
            target_rank=r.target_rank,
            artist_scores=tuple(r.artist_scores),
            rhythm=_rhythm_out(r.rhythm),
        )

    def compare(self, job: CompareJob) -> Comparison:
        from inference import RapsimError, pair_words

        for v in (job.a, job.b):
            if v.encoder != self.encoder:
                raise RapsimError("a saved note was analysed with another voice model")
        fa, fb = (self._features(v) for v in (job.a, job.b))
        r = self.analyzer.compare_features(
            fa, fb, labels=job.labels, render=True, language=job.language
        )
        assert r.image_png is not None
        return Comparison(
            score=r.score,
            closest=(r.a.matches[0].artist, r.b.matches[0].artist),
            image_png=r.image_png,
            maybe_same_voice=r.maybe_same_voice,
            meaning=pair_words(r.score, job.language),
        )

    @staticmethod
    def _features(v: Voice) -> Any:
        from inference import Features, StyleProfile

        mel = np.repeat(np.asarray(v.mel, dtype=np.uint8), PROFILE_MEL_POOL, axis=1)
        return Features(
            embedding=np.asarray(v.embedding, dtype=np.float32),
            style=StyleProfile.from_array(np.asarray(v.style, dtype=np.float64)),
            mel=mel,
            duration_seconds=0.0,
            voiced_seconds=0.0,
            warnings=(),
        )


def _options(job: AnalyzeJob) -> Any:
    from inference import AnalyzerOptions

    return AnalyzerOptions(top_k=job.top_k, image=True, target=job.target, language=job.language)


def _refusal(error: Exception, language: str) -> str:
    """Why a note was refused, for the member: inference's own sentence in English."""
    if language == "en":
        return str(error)
    kind = next((c.__name__ for c in type(error).__mro__ if c.__name__ in _REFUSALS), "")
    return say(_REFUSALS.get(kind, _REFUSED), language)


def _rhythm_out(r: Any) -> RhythmOut | None:
    if r is None:
        return None
    return RhythmOut(
        grid=r.grid,
        bpm=float(r.bpm),
        offset_ms=float(r.offset_ms),
        tightness_ms=float(r.tightness_ms),
        on_grid_share=float(r.on_grid_share),
        syllables_per_beat=float(r.syllables_per_beat),
        bar_density_change=float(r.bar_density_change),
        rests=tuple(float(v) for v in r.rests),
        tempo_drift_pct=float(r.tempo_drift_pct),
        swing=float(r.swing),
        bar_offsets_ms=tuple(float(v) for v in r.bar_offsets_ms),
        syllables=len(r.syllables),
    )


def _match_out(m: Any, language: str) -> MatchOut:
    from inference import artist_words

    words = artist_words(m.score, language)
    return MatchOut(m.artist, m.score, m.demo, m.identity, m.maybe_self, words, float(m.reach))


def _values(style: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in style.as_array())


def _features() -> tuple[StyleFeature, ...]:
    """How the workers' style features are named and written, for the bot's charts."""
    from inference import PERCENT, STYLE_DISPLAY, UNITS

    return tuple(
        StyleFeature(name, label, UNITS[name][0], UNITS[name][1], name in PERCENT, lo, hi)
        for name, (label, _fmt, lo, hi) in STYLE_DISPLAY.items()
    )


def _style_lines(mine: Any, theirs: Any, language: str) -> tuple[StyleLine, ...]:
    from inference import STYLE_DISPLAY, style_label, style_value

    lines = []
    for name in mine.feature_names():
        _, _, lo, hi = STYLE_DISPLAY[name]
        a = float(getattr(mine, name))
        b = float(getattr(theirs, name)) if theirs is not None else float("nan")
        lines.append(
            StyleLine(
                name=name,
                label=style_label(name, language),
                mine=a,
                theirs=b,
                mine_text=style_value(name, a, language),
                theirs_text=style_value(name, b, language),
                span=hi - lo,
            )
        )
    return tuple(lines)


def _pool_time(mel: np.ndarray, factor: int) -> np.ndarray:
    """Max-pool a (bands, frames) uint8 image ``factor`` x in time (onsets stay visible)."""
    mel = np.asarray(mel, dtype=np.uint8)
    frames = -(-mel.shape[1] // factor) * factor
    padded = np.pad(mel, ((0, 0), (0, frames - mel.shape[1])))
    return padded.reshape(mel.shape[0], -1, factor).max(axis=2)
