"""Members over a beat: does a voice the catalogue never saw get the same answer over a
beat as it gets clean?

A catalogue built from the corpus (``bench.accuracy --keep-catalog``) is cut down: every
``--every``-th voice is left out and becomes a member, the rest stay artists and the
matching space and scales are refitted on them (``refit_matching``: nothing is
re-embedded). Each member's test clips (ogg/opus, decoded as a note) are ranked clean and
over a beat of each family of ``bench.music`` (0-5 dB), and we report:

- **same top artist as the clean take**: the share of takes over a beat whose top artist is
  the one the same take gets clean;
- **across a person's takes**: the share of a member's takes over a beat that name the
  artist their clean takes name most (the clean figure is given beside it).

    python -m bench.members_over_beat --corpus /tmp/bench/corpus --catalog /tmp/bench/cat-A
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.accuracy import read_manifest
from bench.music import FAMILIES, add_music
from bench.table import emit
from inference import Catalog, Pipeline, PipelineOptions, RapsimError, load_encoder, refit_matching
from inference.catalog.matching import Matcher

log = logging.getLogger("bench.members_over_beat")


def without_artists(catalog: Catalog, members: set[str]) -> Catalog:
    """``catalog`` without the members' clips, its matching space fitted anew."""
    kept = [a for a in catalog.artists if a not in members]
    remap = {catalog.artists.index(a): i for i, a in enumerate(kept)}
    rows = [i for i, c in enumerate(catalog.clips) if c.artist in remap]
    sub = Catalog(
        encoder=catalog.encoder,
        artists=kept,
        demo_artists=catalog.demo_artists - members,
        clips=[replace(catalog.clips[i], artist=remap[catalog.clips[i].artist]) for i in rows],
        embeddings=catalog.embeddings[rows],
        styles=catalog.styles[rows],
        refs={remap[a]: mel for a, mel in catalog.refs.items() if a in remap},
        matching=catalog.matching,
    )
    return refit_matching(sub, projection=str(catalog.matching.get("projection", "lda")))


def _top(pipeline: Pipeline, matcher: Matcher, wav: np.ndarray) -> str | None:
    try:
        return matcher.rank(pipeline.embedding_from_wav(wav), top_k=1)[0].artist
    except RapsimError:
        return None


def evaluate(args: argparse.Namespace) -> dict:
    pipeline = Pipeline(load_encoder(), PipelineOptions(threads=1))
    pipeline.warmup()
    catalog = Catalog.load(args.catalog)
    voices = sorted(catalog.artists)
    members = set(voices[args.offset :: args.every])
    matcher = Matcher(without_artists(catalog, members))
    rows = read_manifest(args.corpus)
    takes = [r for r in rows if r["identity"] in members and r["split"] == "test"]
    tops: dict[str, dict[str, list[str | None]]] = defaultdict(lambda: defaultdict(list))
    for i, take in enumerate(takes):
        clean = pipeline.decode(args.corpus / take["opus_path"]).wav
        tops["clean"][take["identity"]].append(_top(pipeline, matcher, clean))
        for f, family in enumerate(args.families.split(",")):
            rng = np.random.default_rng([args.seed, i, f])
            mixed = add_music(clean, rng, family)
            tops[family][take["identity"]].append(_top(pipeline, matcher, mixed))
    out: dict = {"members": len(members), "takes": len(takes), "families": {}}
    clean = tops["clean"]
    usual = {v: Counter(t for t in ts if t).most_common(1)[0][0] for v, ts in clean.items()}
    out["clean_across_takes"] = _share(
        [t == usual[v] for v, ts in clean.items() for t in ts if t is not None]
    )
    for family in args.families.split(","):
        same = [
            over == base
            for v in clean
            for base, over in zip(clean[v], tops[family][v], strict=True)
            if base is not None
        ]
        across = [t == usual[v] for v, ts in tops[family].items() for t in ts]
        refused = sum(t is None for ts in tops[family].values() for t in ts)
        out["families"][family] = {
            "same_top_as_clean": _share(same),
            "across_takes": _share(across),
            "refused": refused,
        }
        log.info("%s: %s", family, out["families"][family])
    return out


def _share(flags: list[bool]) -> float:
    return round(float(np.mean(flags)), 3) if flags else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/bench/corpus"))
    ap.add_argument("--catalog", type=Path, required=True, help="bench.accuracy --keep-catalog")
    ap.add_argument("--every", type=int, default=3, help="every N-th voice is a member")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    emit({"corpus": str(args.corpus), **evaluate(args)}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
