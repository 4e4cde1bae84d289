"""``rapsim demo``, ``analyze``, ``compare`` and ``artists``: notes against a catalogue,
printed for people (or as JSON lines), images written where asked."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    EXIT_SOME_FAILED,
    add_analyze_opts,
    add_common,
    load_analyzer,
    load_catalog,
)

if TYPE_CHECKING:
    from inference import AnalysisResult


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


def cmd_analyze(args: argparse.Namespace, files: Sequence[str] | None = None) -> int:
    from inference import AnalyzerOptions, RapsimError

    files = list(files or args.files)
    analyzer = load_analyzer(args)
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
    analyzer = load_analyzer(args)
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
    catalog = load_catalog(args)
    infos = catalog.artist_infos()
    for a in sorted(infos, key=lambda i: i.name.lower()):
        tag = "  (demo voice)" if a.demo else ""
        print(f"{a.name:<32} {a.clips:4d} clips {a.seconds:7.0f} s{tag}")
    print(f"{len(infos)} artists, encoder {catalog.encoder['name']} {catalog.encoder['version']}")
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("demo", help="analyse the bundled sample note against the demo catalogue")
    add_common(p, catalog=False)
    add_analyze_opts(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("analyze", help="which artists do these recordings sound like")
    p.add_argument("files", nargs="+", metavar="FILE")
    add_common(p)
    add_analyze_opts(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("compare", help="how alike two recordings sound")
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--image", metavar="PNG", help="write the comparison image here")
    p.add_argument("--json", action="store_true")
    add_common(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("artists", help="list the catalogue's artists")
    add_common(p)
    p.set_defaults(func=cmd_artists)
