"""``rapsim catalog build`` and ``rapsim catalog add``: embed artists' clips into a
catalogue folder, in parallel and resumably."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import EXIT_USER_ERROR, add_common, add_jobs, make_pipeline, print_report, progress


def cmd_catalog_build(args: argparse.Namespace) -> int:
    from inference import BUILD_CACHE, build_catalog

    cache = Path(args.out) / BUILD_CACHE
    with resumable(cache):
        catalog, report = build_catalog(
            args.clips_dir,
            # one thread: N jobs are N one-thread workers, and --jobs 1 builds the same bytes
            make_pipeline(args, threads=1),
            demo=args.demo,
            projection=args.projection,
            augment=args.augment,
            progress=progress("embedding clips"),
            jobs=args.jobs,
            cache_dir=cache,
        )
    catalog.save(args.out)
    print_report(report, f"built {args.out}: {len(catalog.artists)} artists", cache)
    return 0


def cmd_catalog_add(args: argparse.Namespace) -> int:
    from inference import BUILD_CACHE, Catalog, add_clips

    where = args.catalog or os.environ.get("RAPSIM_CATALOG")
    if not where:
        print("rapsim: catalog add needs --catalog DIR (or RAPSIM_CATALOG)", file=sys.stderr)
        return EXIT_USER_ERROR
    old = Catalog.load(where)
    cache = Path(where) / BUILD_CACHE
    with resumable(cache):
        catalog, report = add_clips(
            old,
            make_pipeline(args, threads=1),
            args.artist,
            args.files,
            progress=progress("embedding clips"),
            jobs=args.jobs,
            cache_dir=cache,
        )
    catalog.save(where)
    print_report(report, f"updated {where}: {len(catalog.artists)} artists", cache)
    return 0


@contextlib.contextmanager
def resumable(cache: Path) -> Iterator[None]:
    """On Ctrl-C, say that the work done so far is kept."""
    try:
        yield
    except KeyboardInterrupt:
        kept = len(list(cache.glob("*.npz"))) if cache.is_dir() else 0
        print(
            f"\nrapsim: stopped; {kept} embedded files are kept in {cache}: "
            "run the same command again to go on from there",
            file=sys.stderr,
        )
        raise


def add_parsers(sub: Any) -> None:
    cat = sub.add_parser("catalog", help="build or extend a catalogue").add_subparsers(
        dest="catalog_command", required=True
    )
    p = cat.add_parser("build", help="embed CLIPS_DIR/<Artist>/*.mp3|wav|ogg|flac|m4a")
    p.add_argument("clips_dir", metavar="CLIPS_DIR")
    p.add_argument("--out", required=True, metavar="CATALOG_DIR")
    p.add_argument("--demo", action="store_true", help="label every artist as a demo voice")
    p.add_argument(
        "--augment",
        choices=("none", "gallery", "channel"),
        default="channel",
        help="variants of each window added to the gallery: gallery = pitch, tempo, room, "
        "noise; channel (default) = those plus band, reverb, low-bitrate opus, a drum beat, "
        "a musical beat and a phone chain (needs ffmpeg; 13 vectors per window instead of 7)",
    )
    p.add_argument(
        "--no-augment",
        dest="augment",
        action="store_const",
        const="none",
        help="the same as --augment none (fastest build)",
    )
    p.add_argument(
        "--projection",
        default="lda",
        choices=("none", "wccn", "lda"),
        help="matching-space transform fitted on the catalogue",
    )
    add_common(p, catalog=False)
    add_jobs(p)
    p.set_defaults(func=cmd_catalog_build)
    p = cat.add_parser("add", help="add clips of one artist to a catalogue")
    p.add_argument("--artist", required=True)
    p.add_argument("files", nargs="+", metavar="FILE")
    add_common(p)
    add_jobs(p)
    p.set_defaults(func=cmd_catalog_add)
