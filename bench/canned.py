"""A canned analysis with the usual sizes, for benchmarks of the transport alone
(``bench.broker_compare`` and its Celery echo worker): no model runs."""

from __future__ import annotations

import numpy as np

from bot.jobs import Analysis, MatchOut, StyleLine, Voice

PNG_BYTES = 110_000


def canned_analysis() -> Analysis:
    """What a real analysis carries, with the usual sizes (the PNG is random bytes)."""
    rng = np.random.default_rng(0)
    lines = tuple(
        StyleLine(f"f{i}", f"Feature {i}", 1.0, 2.0, "1.0 x", "2.0 x", 3.0) for i in range(8)
    )
    return Analysis(
        matches=tuple(MatchOut(f"Artist {i}", 90.0 - i, False) for i in range(5)),
        style_lines=lines,
        voice=Voice(
            rng.standard_normal(256).astype(np.float32),
            tuple(float(v) for v in range(8)),
            rng.integers(0, 255, (64, 375), dtype=np.uint8),
            "echo 0",
        ),
        image_png=rng.bytes(PNG_BYTES),
        duration_seconds=30.0,
        voiced_seconds=25.0,
        warnings=(),
        timings_ms={"decode": 1.0},
    )
