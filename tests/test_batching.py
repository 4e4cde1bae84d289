"""The GPU worker's batching path, run on CPU with a tiny HuBERT (the same code).

A batch must give what each note gives alone: HuBERT's masked batch pass against single
passes, ``WorkerCore.handle_batch`` against ``handle`` (matches, style, image), and the
:class:`~bot.pool.runners.BatchRunner` that gathers waiting notes into batches. Tolerance:
embeddings agree to 1e-5 (float32 rounding: only the summation order differs), scores
to 0.01 points.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import needs_ffmpeg, to_opus

transformers = pytest.importorskip("transformers")

from bot.jobs import AnalyzeJob  # noqa: E402
from bot.pool.local import WorkerConfig  # noqa: E402
from bot.pool.runners import BatchRunner  # noqa: E402
from inference.voice.hubert import HubertEncoder  # noqa: E402
from tests.test_hubert import noise, save_tiny, tone  # noqa: E402

EMBED_TOL = 1e-5


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("hubert") / "tiny-hubert", seed=1)


@pytest.fixture(scope="module")
def tiny_catalog(tiny: Path, clips_dir: Path, tmp_path_factory) -> Path:
    from inference import Pipeline, build_catalog, load_encoder

    pipeline = Pipeline(load_encoder(f"hubert:{tiny}"))
    catalog, _ = build_catalog(clips_dir, pipeline, augment="none")
    return catalog.save(tmp_path_factory.mktemp("tinycat") / "cat")


@pytest.fixture(scope="module")
def config(tiny: Path, tiny_catalog: Path) -> WorkerConfig:
    return WorkerConfig(catalog=str(tiny_catalog), encoder=f"hubert:{tiny}", threads=1)


@pytest.fixture(scope="module")
def notes(speech_wav: Path, clips_dir: Path, tmp_path_factory) -> list[bytes]:
    """Three notes of different lengths (so the batch pads) and one that is not audio."""
    d = tmp_path_factory.mktemp("notes")
    wavs = [speech_wav, *sorted(clips_dir.glob("*/0.wav"))[:2]]
    real = [to_opus(w, d / f"n{i}.ogg").read_bytes() for i, w in enumerate(wavs)]
    return [*real, b"this is not audio" * 50]


def test_a_batch_embeds_like_single_passes(tiny: Path):
    enc = HubertEncoder(str(tiny), max_seconds=1.0)  # the 2.5 s input runs in 3 chunks
    wavs = [noise(2.5, seed=1), tone(0.7), noise(1.2, seed=2, scale=0.3), noise(0.05, seed=3)]
    batch = enc.embed_batch(wavs)
    single = np.stack([enc.embed(w) for w in wavs])
    assert batch.dtype == np.float32 and batch.shape == (4, enc.dim)
    np.testing.assert_allclose(batch, single, atol=EMBED_TOL)
    assert np.abs(single[0] - single[1]).max() > 0.01  # the inputs do differ


@needs_ffmpeg
def test_handle_batch_answers_like_handle(config: WorkerConfig, notes: list[bytes]):
    from bot.pool.worker import WorkerCore

    core = WorkerCore(config)
    jobs = [AnalyzeJob(n, f"n{i}.ogg", top_k=3) for i, n in enumerate(notes)]
    batched = core.handle_batch(jobs)
    alone = [core.handle("analyze", j) for j in jobs]
    assert [s for s, _ in batched] == ["ok", "ok", "ok", "rejected"]
    assert batched[3] == alone[3]
    for (_, b), (_, a) in zip(batched[:3], alone[:3], strict=True):
        assert_same_analysis(b, a)


def assert_same_analysis(b, a) -> None:
    np.testing.assert_allclose(b.voice.embedding, a.voice.embedding, atol=EMBED_TOL)
    assert [m.artist for m in b.matches] == [m.artist for m in a.matches]
    np.testing.assert_allclose(
        [m.score for m in b.matches], [m.score for m in a.matches], atol=0.01
    )
    np.testing.assert_array_equal(b.voice.mel, a.voice.mel)
    assert b.voice.style == a.voice.style or np.allclose(
        b.voice.style, a.voice.style, equal_nan=True
    )
    assert b.image_png.startswith(b"\x89PNG") and b.duration_seconds == a.duration_seconds


@needs_ffmpeg
def test_the_batch_runner_gathers_waiting_notes(config: WorkerConfig, notes: list[bytes]):
    from bot.errors import JobRejected
    from bot.pool.worker import WorkerCore

    async def run() -> tuple[list, list[int]]:
        runner = BatchRunner(config, size=4, wait_ms=200)
        await runner.start()
        try:
            jobs = [AnalyzeJob(notes[i % 3], f"n{i}.ogg", top_k=3) for i in range(6)]
            jobs.append(AnalyzeJob(notes[3], "bad.ogg"))
            got = await asyncio.gather(*(runner.run(j) for j in jobs), return_exceptions=True)
            return got, list(runner.batches)
        finally:
            await runner.close()

    got, batches = asyncio.run(run())
    assert sum(batches) == 7 and max(batches) == 4 and len(batches) == 2, batches
    assert isinstance(got[6], JobRejected)
    core = WorkerCore(config)
    for i, result in enumerate(got[:6]):
        _, alone = core.handle("analyze", AnalyzeJob(notes[i % 3], "n.ogg", top_k=3))
        assert_same_analysis(result, alone)
