"""``rapsim``: the command line. Parses arguments, sets up logging, calls ``inference``.

User mistakes (a bad file, a missing catalogue) print one line to stderr and exit 2 (1
when some of several files failed); unexpected errors keep their traceback. Heavy imports
(torch, librosa) happen only after the arguments are parsed, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inference import AnalysisResult, Analyzer, Catalog, Pipeline

log = logging.getLogger("rapsim")

EXIT_USER_ERROR = 2
EXIT_SOME_FAILED = 1


def _progress(desc: str):
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


def _pipeline(args: argparse.Namespace, threads: int | None = None) -> Pipeline:
    from inference import Pipeline, PipelineOptions, load_encoder

    options = PipelineOptions(suppress_beat=args.suppress_beat, threads=threads)
    return Pipeline(load_encoder(args.encoder), options)


def _catalog(args: argparse.Namespace, pipeline: Pipeline | None = None) -> Catalog:
    """--catalog, else RAPSIM_CATALOG, else the bundled demo (built on first use)."""
    from inference import Catalog, demo_catalog

    where = args.catalog or os.environ.get("RAPSIM_CATALOG")
    if where:
        return Catalog.load(where)
    return demo_catalog(
        pipeline or _pipeline(args), progress=_progress("building demo catalogue"), jobs=_cores()
    )


def _analyzer(args: argparse.Namespace) -> Analyzer:
    from inference import Analyzer, Catalog, demo_catalog

    where = args.catalog or os.environ.get("RAPSIM_CATALOG")
    # a bad catalogue fails here, before seconds of model loading
    catalog = Catalog.load(where) if where else None
    pipeline = _pipeline(args)
    if catalog is None:
        catalog = demo_catalog(
            pipeline, progress=_progress("building demo catalogue"), jobs=_cores()
        )
    analyzer = Analyzer(catalog, pipeline)
    analyzer.warmup()
    return analyzer


# ---- printing ---------------------------------------------------------------------------
def _image_path(base: str | None, source: str, many: bool) -> Path | None:
    if not base:
        return None
    p = Path(base)
    return p.with_name(f"{p.stem}-{Path(source).stem}{p.suffix or '.png'}") if many else p


def _print_result(name: str, r: AnalysisResult, image: Path | None) -> None:
    from inference import artist_words, format_style_value

    print(f"{name}  ({r.duration_seconds:.1f} s, {r.voiced_seconds:.1f} s of voice)")
    width = max(len(m.artist) for m in r.matches) + 2
    print(f"  resemblance 0-100 (closest: {artist_words(r.matches[0].score)})")
    for i, m in enumerate(r.matches, 1):
        tag = "  [demo voice]" if m.demo else ""
        tag += f"  [may be {m.artist} themself: identity {m.identity:.0f}]" if m.maybe_self else ""
        print(f"  {i}. {m.artist:<{width}} {m.score:5.1f}{tag}")
    top = r.matches[0].artist
    print(f"\n  {'style':<24}{'you':>16}{top[:22]:>24}")
    ref = r.top_artist_style.as_dict() if r.top_artist_style else {}
    for key, value in r.style.as_dict().items():
        theirs = ref.get(key)
        mine = format_style_value(key, float("nan") if value is None else value)
        other = format_style_value(key, float("nan") if theirs is None else theirs)
        print(f"  {key:<24}{mine:>16}{other:>24}")
    print()
    for line in r.readings:
        print(f"  - {line}")
    for w in r.warnings:
        print(f"  ! {w}")
    if image:
        print(f"  image: {image}")
    print()


def _write_png(path: Path | None, png: bytes | None) -> None:
    if path and png:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)


# ---- commands ---------------------------------------------------------------------------
def cmd_analyze(args: argparse.Namespace, files: Sequence[str] | None = None) -> int:
    from inference import AnalyzerOptions, RapsimError

    files = list(files or args.files)
    analyzer = _analyzer(args)
    opts = AnalyzerOptions(top_k=args.top_k, image=bool(args.image))
    failed = 0
    for f in files:
        image = _image_path(args.image, f, len(files) > 1)
        try:
            result = analyzer.analyze(f, opts)
        except RapsimError as e:
            failed += 1
            if args.json:
                print(json.dumps({"file": f, "error": str(e)}), flush=True)
            else:
                print(f"rapsim: {f}: {e}", file=sys.stderr)
            continue
        _write_png(image, result.image_png)
        if args.json:
            print(json.dumps({"file": f, **result.to_json_dict()}, ensure_ascii=False), flush=True)
        else:
            _print_result(f, result, image)
    return EXIT_SOME_FAILED if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from inference import SAMPLE_NOTE

    args.catalog = None
    os.environ.pop("RAPSIM_CATALOG", None)
    args.image = args.image or "rapsim-demo.png"
    return cmd_analyze(args, [str(SAMPLE_NOTE)])


def cmd_compare(args: argparse.Namespace) -> int:
    analyzer = _analyzer(args)
    labels = (Path(args.a).name, Path(args.b).name)
    result = analyzer.compare(args.a, args.b, labels=labels, render=bool(args.image))
    _write_png(Path(args.image) if args.image else None, result.image_png)
    if args.json:
        print(
            json.dumps(
                {
                    "a": args.a,
                    "b": args.b,
                    "score": round(result.score, 1),
                    "identity": round(result.identity, 1),
                }
            )
        )
    else:
        from inference import pair_words

        print(
            f"{labels[0]} vs {labels[1]}: {result.score:.0f}/100 alike, {pair_words(result.score)}"
        )
        if result.maybe_same_voice:
            print(f"  may be the same person (identity {result.identity:.0f}/100)")
        print(f"  closest artist: {result.a.matches[0].artist} / {result.b.matches[0].artist}")
        if args.image:
            print(f"  image: {args.image}")
    return 0


def cmd_artists(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    infos = catalog.artist_infos()
    for a in sorted(infos, key=lambda i: i.name.lower()):
        tag = "  (demo voice)" if a.demo else ""
        print(f"{a.name:<32} {a.clips:4d} clips {a.seconds:7.0f} s{tag}")
    print(f"{len(infos)} artists, encoder {catalog.encoder['name']} {catalog.encoder['version']}")
    return 0


def cmd_catalog_build(args: argparse.Namespace) -> int:
    from inference import BUILD_CACHE, build_catalog

    cache = Path(args.out) / BUILD_CACHE
    with _resumable(cache):
        catalog, report = build_catalog(
            args.clips_dir,
            # one thread: N jobs are N one-thread workers, and --jobs 1 builds the same bytes
            _pipeline(args, threads=1),
            demo=args.demo,
            projection=args.projection,
            augment=args.augment,
            progress=_progress("embedding clips"),
            jobs=args.jobs,
            cache_dir=cache,
        )
    catalog.save(args.out)
    _report(report, f"built {args.out}: {len(catalog.artists)} artists", cache)
    return 0


def cmd_catalog_add(args: argparse.Namespace) -> int:
    from inference import BUILD_CACHE, Catalog, add_clips

    where = args.catalog or os.environ.get("RAPSIM_CATALOG")
    if not where:
        print("rapsim: catalog add needs --catalog DIR (or RAPSIM_CATALOG)", file=sys.stderr)
        return EXIT_USER_ERROR
    old = Catalog.load(where)
    cache = Path(where) / BUILD_CACHE
    with _resumable(cache):
        catalog, report = add_clips(
            old,
            _pipeline(args, threads=1),
            args.artist,
            args.files,
            progress=_progress("embedding clips"),
            jobs=args.jobs,
            cache_dir=cache,
        )
    catalog.save(where)
    _report(report, f"updated {where}: {len(catalog.artists)} artists", cache)
    return 0


@contextlib.contextmanager
def _resumable(cache: Path) -> Iterator[None]:
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


def _run_bot(platform: str, args: argparse.Namespace) -> int:
    """Run one chat bot until stopped; settings come from the environment and .env."""
    import asyncio

    from bot.errors import PoolClosed, SettingsError
    from bot.settings import install_token_filter, load_settings
    from bot.store.profiles import StoreError

    if not args.verbose:  # a bot is a service: say when it is ready, and what fails
        logging.getLogger().setLevel(logging.INFO)
    try:
        settings = load_settings(dotenv=args.env_file)
        install_token_filter(settings)
        if platform == "discord":
            settings.require_discord_token()
            from bot.discord_bot import run_discord

            asyncio.run(run_discord(settings, sync=args.sync))
        else:
            settings.require_telegram_token()
            from bot.telegram_bot import run_telegram

            asyncio.run(run_telegram(settings))
    except (SettingsError, StoreError, PoolClosed) as e:
        print(f"rapsim: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def cmd_discord(args: argparse.Namespace) -> int:
    return _run_bot("discord", args)


def cmd_telegram(args: argparse.Namespace) -> int:
    return _run_bot("telegram", args)


def _report(report: Any, head: str, cache: Path | None = None) -> None:
    reused = f" ({report.cached} files from {cache})" if cache and report.cached else ""
    print(f"{head}, {report.clips} clips added{reused}")
    for line in report.skipped:
        print(f"  skipped {line}", file=sys.stderr)


# ---- parser -----------------------------------------------------------------------------
def _common(p: argparse.ArgumentParser, catalog: bool = True) -> None:
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
        "--suppress-beat",
        action="store_true",
        help="separate harmonic voice from drums before embedding",
    )


def _top_k(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 50:
        raise argparse.ArgumentTypeError("must be between 1 and 50")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def _jobs(p: argparse.ArgumentParser) -> None:
    cores = _cores()
    p.add_argument(
        "--jobs",
        type=_positive,
        default=cores,
        metavar="N",
        help=f"worker processes, one core each (default: the {cores} usable cores); files "
        "already embedded (in CATALOG_DIR/.build-cache) are not embedded again",
    )


def _analyze_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--top-k", type=_top_k, default=5, help="how many artists to list (1-50)")
    p.add_argument("--image", metavar="PNG", help="write the comparison image here")
    p.add_argument("--json", action="store_true", help="one JSON object per file per line")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rapsim", description="Which rappers do you sound like?")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="analyse the bundled sample note against the demo catalogue")
    _common(p, catalog=False)
    _analyze_opts(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("analyze", help="which artists do these recordings sound like")
    p.add_argument("files", nargs="+", metavar="FILE")
    _common(p)
    _analyze_opts(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("compare", help="how alike two recordings sound")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--image", metavar="PNG", help="write the comparison image here")
    p.add_argument("--json", action="store_true")
    _common(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("artists", help="list the catalogue's artists")
    _common(p)
    p.set_defaults(func=cmd_artists)

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
        "noise; channel (default) = those plus band, reverb, low-bitrate opus, a drum beat "
        "and a phone chain (needs ffmpeg; 12 vectors per window instead of 7)",
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
    _common(p, catalog=False)
    _jobs(p)
    p.set_defaults(func=cmd_catalog_build)
    p = cat.add_parser("add", help="add clips of one artist to a catalogue")
    p.add_argument("--artist", required=True)
    p.add_argument("files", nargs="+", metavar="FILE")
    _common(p)
    _jobs(p)
    p.set_defaults(func=cmd_catalog_add)

    from . import kit, worker_cli

    kit.add_parsers(sub)
    worker_cli.add_parsers(sub)

    for name, func in (("discord", cmd_discord), ("telegram", cmd_telegram)):
        p = sub.add_parser(
            name, help=f"run the {name.title()} bot (settings: environment and .env)"
        )
        p.add_argument(
            "--env-file", default=".env", metavar="FILE", help="settings file (default: .env)"
        )
        if name == "discord":
            p.add_argument(
                "--sync",
                action="store_true",
                help="register the slash commands with Discord once, at this start",
            )
        p.set_defaults(func=func)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    # torch's OpenMP threads spin while they wait for each other: with other work on the
    # cores, one Resemblyzer embedding took 5-10 s instead of 0.3 s (2 threads, 2 busy
    # cores); waiting passively costs nothing measurable. Read when torch loads, below.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        # inference is imported only by the commands that need it (not by the bots)
        inference = sys.modules.get("inference")
        if inference is not None and isinstance(e, inference.RapsimError):
            print(f"rapsim: {e}", file=sys.stderr)
            return EXIT_USER_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
