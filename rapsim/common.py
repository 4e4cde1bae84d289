"""What the commands of ``rapsim`` share: exit codes, progress bars, the pipeline,
catalogue and analyzer made from the common options, and those options.

Heavy imports (torch, librosa) happen inside the functions, after the arguments are
parsed, so ``--help`` is instant. It runs no command itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inference import Analyzer, Catalog, Pipeline

EXIT_USER_ERROR = 2
EXIT_SOME_FAILED = 1


def progress(desc: str):
    def wrap(items: Iterable[Any], total: int) -> Iterable[Any]:
        from tqdm import tqdm

        return tqdm(
            items,
            total=total,
            desc=desc,
            unit="file",
            file=sys.stderr,
            disable=not sys.stderr.isatty() and total < 2,
        )

    return wrap


def make_pipeline(args: argparse.Namespace, threads: int | None = None) -> Pipeline:
    from inference import Pipeline, PipelineOptions, load_encoder

    options = PipelineOptions(
        suppress_beat=args.suppress_beat, threads=threads, separator=args.separator
    )
    return Pipeline(load_encoder(args.encoder), options)


def load_catalog(args: argparse.Namespace, pipeline: Pipeline | None = None) -> Catalog:
    """--catalog, else RAPSIM_CATALOG, else the bundled demo (built on first use)."""
    from inference import Catalog, demo_catalog

    where = args.catalog or os.environ.get("RAPSIM_CATALOG")
    if where:
        return Catalog.load(where)
    return demo_catalog(
        pipeline or make_pipeline(args), progress=progress("building demo catalogue"), jobs=cores()
    )


def load_analyzer(args: argparse.Namespace) -> Analyzer:
    from inference import Analyzer, Catalog, demo_catalog

    where = args.catalog or os.environ.get("RAPSIM_CATALOG")
    # a bad catalogue fails here, before seconds of model loading
    catalog = Catalog.load(where) if where else None
    pipeline = make_pipeline(args)
    if catalog is None:
        catalog = demo_catalog(pipeline, progress=progress("building demo catalogue"), jobs=cores())
    analyzer = Analyzer(catalog, pipeline)
    analyzer.warmup()
    return analyzer


def print_report(report: Any, head: str, cache: Path | None = None) -> None:
    reused = f" ({report.cached} files from {cache})" if cache and report.cached else ""
    print(f"{head}, {report.clips} clips added{reused}")
    for source, voiced, kept, windows in report.voice:
        print(f"  {source}: {voiced:.0f} s of voice in {kept} of {windows} windows")
    for line in report.skipped:
        print(f"  skipped {line}", file=sys.stderr)


def add_common(p: argparse.ArgumentParser, catalog: bool = True) -> None:
    if catalog:
        p.add_argument(
            "--catalog",
            metavar="DIR",
            help="catalogue folder (default: $RAPSIM_CATALOG, else the demo)",
        )
    p.add_argument(
        "--encoder",
        default=os.environ.get("RAPSIM_ENCODER", "resemblyzer"),
        help="resemblyzer (default) or hubert:<hub id or local folder>",
    )
    p.add_argument(
        "--separator",
        default=os.environ.get("RAPSIM_SEPARATOR", ""),
        metavar="SPEC",
        help="voice/beat separator: the bundled one (default), or demucs:<folder> "
        "(pip install 'rapsim[demucs]'; folder from python -m inference.audio.demucs_sep export)",
    )
    p.add_argument(
        "--suppress-beat",
        action="store_true",
        help="separate harmonic voice from drums before embedding",
    )


def top_k(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 50:
        raise argparse.ArgumentTypeError("must be between 1 and 50")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def cores() -> int:
    return len(os.sched_getaffinity(0))


def add_jobs(p: argparse.ArgumentParser) -> None:
    n = cores()
    p.add_argument(
        "--jobs",
        type=positive,
        default=n,
        metavar="N",
        help=f"worker processes, one core each (default: the {n} usable cores); files "
        "already embedded (in CATALOG_DIR/.build-cache) are not embedded again",
    )


def add_analyze_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--top-k", type=top_k, default=5, help="how many artists to list (1-50)")
    p.add_argument("--image", metavar="PNG", help="write the comparison image here")
    p.add_argument("--json", action="store_true", help="one JSON object per file per line")
