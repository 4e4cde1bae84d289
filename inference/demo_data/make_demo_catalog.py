"""Rebuild the demo catalogue shipped in the package (inference/demo_data/catalog).

Usage, from the repository root:  .venv/bin/python inference/demo_data/make_demo_catalog.py
Run it after changing the demo clips, the encoder, the catalogue format or the build /
matching code: tests/test_demo_catalog.py fails until the shipped catalogue is current.
It embeds the clips on every usable core (minutes); files embedded by an earlier run with
the same code are reused from ~/.cache/rapsim/demo-build-cache.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, not an install

from inference import Pipeline, PipelineOptions, load_encoder
from inference.demo import write_shipped_catalog


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from tqdm import tqdm

    pipeline = Pipeline(load_encoder("resemblyzer"), PipelineOptions(threads=1))
    folder = write_shipped_catalog(
        pipeline, args.jobs, lambda items, total: tqdm(items, total=total, unit="file")
    )
    size = sum(p.stat().st_size for p in folder.iterdir())
    logging.info("wrote %s (%.0f kB)", folder, size / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
