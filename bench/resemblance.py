"""Leave-voices-out benchmark: what members who are not in the catalogue are told.

No member is a catalogue artist, so the matching space, the scores and the heads are
judged here on voices the catalogue never saw. The corpus's voices are split into
``--folds`` folds; each fold's voices are left out of the catalogue and sent as members
(every clip of theirs is one take: other lyrics, same voice), the other voices form the
catalogue, built through the product's own ``fit_matching`` and ranked by its
``Matcher`` (embeddings cached by ``bench.heads``). Per matching space it reports:

* members (left-out voices): top-1 agreement across a voice's takes (share of takes
  naming the voice's most named artist, and share of take pairs naming the same one),
  Spearman rank correlation of the score vectors of two takes, same-gender top-1 rate,
  the resemblance score of the top match (median, quartiles), of the 2nd and 5th, the
  gap between 1st and 5th, and how often the identity signal fires (it should not);
* catalogue voices, same folds: their test clips under every condition of
  ``bench.conditions`` (top-1, the true artist's resemblance and identity);
* ``/compare``: the pair score of two takes of one member (should be high) and of two
  different members (spread out), and how stable a pair's score is across takes.

    python -m bench.resemblance --corpus /tmp/bench/corpus --cache /tmp/bench/emb-a.npz
"""

from __future__ import annotations

import argparse
import csv
import itertools
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from bench.heads import Embeddings, embed_corpus
from bench.table import emit
from inference.types import IDENTITY_SHOWN

log = logging.getLogger("bench.resemblance")

SPACES = ("none", "lda", "lda+raw", "head:supcon", "head:supcon+raw")
TOP_K = 5


@dataclass
class Fold:
    catalog: object  # inference.Catalog
    members: np.ndarray  # voice indices left out
    kept: np.ndarray  # voice indices in the catalogue, in catalogue artist order


def build_catalog(emb: Embeddings, names: list[str], keep: np.ndarray, space: str, seed: int):
    """An in-memory catalogue of the voices ``keep`` (gallery rows with their variants),
    fitted by the product's ``fit_matching`` (``space``: a projection, or
    "head:<loss>" for a Siamese head trained as ``rapsim train`` does)."""
    from inference import Catalog
    from inference.catalog.folder import Clip, make_index
    from inference.catalog.matching import Matcher, fit_matching
    from inference.catalog.resemblance import REFERENCE_FOLDS
    from models.space import HEAD_REFERENCE_FOLDS

    y = np.searchsorted(names, emb.artist)
    rows = np.flatnonzero(np.isin(y, keep))
    artist = np.searchsorted(keep, y[rows])
    groups = np.unique(emb.group[rows], return_inverse=True)[1]
    original = emb.variant[rows] == ""
    X = emb.X[rows]
    fixed, refit, projection = None, None, space
    if space.startswith("head:"):
        loss, _, raw = space.split(":", 1)[1].partition("+")
        fixed, refit = _train_head(X, artist, groups, loss, seed, blended=bool(raw))
        projection = f"head:siamese/{loss}"
    matching, proj = fit_matching(
        X,
        artist,
        groups,
        original,
        projection=projection,
        fixed=fixed,
        refit=refit,
        reference_folds=HEAD_REFERENCE_FOLDS if refit else REFERENCE_FOLDS,
    )
    clips = [
        Clip(int(a), str(g), 0.0, 10.0, str(v))
        for a, g, v in zip(artist, emb.group[rows], emb.variant[rows], strict=True)
    ]
    catalog = Catalog(
        encoder={"name": "resemblyzer", "version": "bench", "dim": X.shape[1]},
        artists=[names[i] for i in keep],
        demo_artists=set(),
        clips=clips,
        embeddings=X,
        styles=np.zeros((len(rows), 8), np.float32),
        refs={},
        matching=matching,
        projection=proj,
    )
    catalog.index = make_index(Matcher(catalog).project(X))
    return catalog


def _train_head(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, loss: str, seed: int, blended: bool
):
    """(projection, refit) of a Siamese head trained as ``rapsim train`` does; blended:
    the head's space beside the encoder's, as "lda+raw" does for LDA."""
    from inference.catalog.matching import blend
    from models import HeadConfig, train_head
    from models.space import fold_trainer, head_projection

    config = HeadConfig(input_dim=X.shape[1], loss=loss, seed=seed)
    enc = {"name": "resemblyzer", "version": "bench", "dim": X.shape[1]}
    extra = blend() if blended else {}
    proj = {**head_projection(train_head(config, X, y, groups, encoder=enc).head), **extra}
    trainer = fold_trainer(config, enc)
    return proj, lambda x, lab, g: {**trainer(x, lab, g), **extra}


def takes_of(emb: Embeddings, names: list[str], voice: int, clean: int) -> np.ndarray:
    """Every clip of a voice as a member's take: its test clips (ogg/opus copies, like
    voice notes; clean) first, then its catalogue-split recordings (16 kHz wav)."""
    y = np.searchsorted(names, emb.artist)
    own = emb.X[(y == voice) & (emb.variant == "")]
    test = emb.Q[clean][np.searchsorted(names, emb.q_artist) == voice]
    takes = np.concatenate([test, own])
    return takes[np.isfinite(takes).all(axis=1)]


def notes_of(emb: Embeddings, names: list[str], voice: int, clean: int) -> int:
    """How many of ``takes_of`` are test clips (the notes of the issue's protocol)."""
    test = emb.Q[clean][np.searchsorted(names, emb.q_artist) == voice]
    return int(np.isfinite(test).all(axis=1).sum())


def score_matrix(matcher, takes: np.ndarray, n_artists: int) -> tuple[np.ndarray, np.ndarray]:
    """(resemblance, identity), each (n_takes, n_artists), from the product's ranking."""
    res = np.zeros((len(takes), n_artists))
    ident = np.zeros((len(takes), n_artists))
    index = {a: i for i, a in enumerate(matcher.catalog.artists)}
    for t, e in enumerate(takes):
        for m in matcher.rank(e, top_k=n_artists):
            res[t, index[m.artist]] = m.score
            ident[t, index[m.artist]] = m.identity
    return res, ident


def member_metrics(per_voice: list[dict]) -> dict:
    """Stability and score distribution over the left-out voices' takes."""
    agree, agree3, pair_agree, rho, same_gender = [], [], [], [], []
    top1, second, fifth, fires, fired = [], [], [], [], set()
    for v in per_voice:
        s, ident = v["scores"], v["identity"]
        first = s.argmax(axis=1)
        agree.append(np.bincount(first).max() / len(first))
        notes = first[: v["notes"]]  # three notes each, as in the protocol
        triples = list(itertools.combinations(range(notes.size), 3))
        if triples:
            agree3.append(np.mean([np.bincount(notes[list(c)]).max() / 3 for c in triples]))
        pairs = list(itertools.combinations(range(len(s)), 2))
        pair_agree.append(np.mean([first[i] == first[j] for i, j in pairs]))
        # a take scoring 0 for every artist has no order: left out (nan)
        rho.append(np.nanmean([spearmanr(s[i], s[j])[0] for i, j in pairs]))
        same_gender += [v["genders"][a] == v["gender"] for a in first]
        ranked = -np.sort(-s, axis=1)
        top1 += list(ranked[:, 0])
        second += list(ranked[:, 1])
        fifth += list(ranked[:, min(TOP_K, s.shape[1]) - 1])
        fire = ident[np.arange(len(first)), first] >= IDENTITY_SHOWN
        fires += list(fire)
        if fire.any():
            fired.add(v["name"])
    top1_a, fifth_a = np.array(top1), np.array(fifth)
    return {
        "voices": len(per_voice),
        "takes": len(top1),
        "top1_agreement_3_notes": _r(np.mean(agree3)),
        "top1_agreement": _r(np.mean(agree)),
        "top1_pair_agreement": _r(np.mean(pair_agree)),
        "rank_correlation": _r(np.nanmean(rho)),
        "same_gender_top1": _r(np.mean(same_gender)),
        "top1_score": _quartiles(top1_a),
        "second_score": _quartiles(np.array(second)),
        "fifth_score": _quartiles(fifth_a),
        "gap_1st_5th_median": _r(float(np.median(top1_a - fifth_a)), 1),
        "identity_fires": _r(np.mean(fires)),
        "identity_fired_for": sorted(fired),
    }


def pair_metrics(per_voice: list[dict], matcher_pairs: list) -> dict:
    """/compare between members: same person (two takes), different people, stability."""
    same, different, spread = [], [], []
    for pair_fn, voices in matcher_pairs:
        for v in voices:
            t = v["takes"]
            same += [pair_fn(t[i], t[j]) for i, j in itertools.combinations(range(len(t)), 2)]
        for a, b in itertools.combinations(voices, 2):
            scores = [pair_fn(x, y) for x in a["takes"][:4] for y in b["takes"][:4]]
            different += scores
            spread.append(np.std(scores))
    same_a, diff_a = np.array(same), np.array(different)
    return {
        "same_person_score": _quartiles(same_a[:, 0]),
        "same_person_flagged": _r(np.mean(same_a[:, 1] >= IDENTITY_SHOWN)),
        "different_people_score": _quartiles(diff_a[:, 0]),
        "different_people_flagged": _r(np.mean(diff_a[:, 1] >= IDENTITY_SHOWN)),
        "pair_score_std_across_takes": _r(float(np.median(spread)), 1),
    }


def identity_metrics(emb: Embeddings, names: list[str], folds: list[Fold]) -> dict:
    """Catalogue voices' test clips under every condition, in the fold catalogues."""
    from inference.catalog.matching import Matcher

    qy = np.searchsorted(names, emb.q_artist)
    out = {}
    for c, cond in enumerate(emb.conditions):
        top1, res, ident = [], [], []
        for f in folds:
            matcher = Matcher(f.catalog)
            for i in np.flatnonzero(np.isin(qy, f.kept)):
                if not np.isfinite(emb.Q[c, i]).all():
                    continue
                ranked = matcher.rank(emb.Q[c, i], top_k=len(f.kept))
                truth = names[qy[i]]
                top1.append(ranked[0].artist == truth)
                own = next(m for m in ranked if m.artist == truth)
                res.append(own.score)
                ident.append(own.identity)
        out[cond] = {
            "top1": _r(np.mean(top1)),
            "own_score_median": _r(float(np.median(res)), 1),
            "own_identity_fires": _r(np.mean(np.array(ident) >= IDENTITY_SHOWN)),
        }
    return out


def evaluate_space(emb: Embeddings, genders: dict[str, str], space: str, args) -> dict:
    from inference.catalog.matching import Matcher

    names = sorted(set(emb.artist))
    clean = emb.conditions.index("clean")
    order = np.random.default_rng(args.fold_seed).permutation(len(names))
    t0 = time.perf_counter()
    folds, per_voice, pairs = [], [], []
    for k in range(args.folds):
        members = np.sort(order[k :: args.folds])
        kept = np.setdiff1d(np.arange(len(names)), members)
        catalog = build_catalog(emb, names, kept, space, args.head_seed)
        folds.append(Fold(catalog, members, kept))
        matcher = Matcher(catalog)
        voices = []
        for v in members:
            takes = takes_of(emb, names, int(v), clean)
            scores, ident = score_matrix(matcher, takes, len(kept))
            voices.append(
                {
                    "name": names[v],
                    "notes": notes_of(emb, names, int(v), clean),
                    "takes": takes,
                    "scores": scores,
                    "identity": ident,
                    "gender": genders[names[v]],
                    "genders": [genders[names[a]] for a in kept],
                }
            )
        per_voice += voices
        pairs.append((lambda a, b, m=matcher: m.pair(a, b)[:2], voices))
    result = {
        "members": member_metrics(per_voice),
        "compare": pair_metrics(per_voice, pairs),
        "catalogue_voices": identity_metrics(emb, names, folds),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    log.info("%s: %s", space, result["members"])
    return result


def rank_latency(emb: Embeddings, queries: int = 100, rounds: int = 5) -> dict:
    """``Matcher.rank`` (resemblance + identity) against the path before resemblance
    (similarities, order, identity calibration), interleaved in one process."""
    from inference.catalog.matching import Matcher, score

    names = sorted(set(emb.artist))
    catalog = build_catalog(emb, names, np.arange(len(names)), "lda", 0)
    matcher = Matcher(catalog)

    def before(e: np.ndarray) -> list:
        sims = matcher.artist_similarities(e)
        order = np.argsort(-sims)[:TOP_K]
        return [(i, score(float(sims[i]), matcher.rank_calibration)) for i in order]

    paths = {"before": before, "now": lambda e: matcher.rank(e, TOP_K)}
    q = emb.Q[emb.conditions.index("clean")][:queries]
    times: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(rounds):
        for name, f in paths.items():
            for e in q:
                t0 = time.perf_counter()
                f(e)
                times[name].append((time.perf_counter() - t0) * 1000)
    out = {
        k: {"p50_ms": _r(np.median(v)), "p95_ms": _r(np.percentile(v, 95))}
        for k, v in times.items()
    }
    out["vectors"] = int(catalog.index.ntotal)
    return out


def _quartiles(a: np.ndarray) -> list[float]:
    return [round(float(v), 1) for v in np.percentile(a, [25, 50, 75])]


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


def read_genders(corpus: Path) -> dict[str, str]:
    with open(corpus / "voices.csv", newline="", encoding="utf-8") as f:
        return {r["identity"]: r["gender"] for r in csv.DictReader(f)}


def markdown(doc: dict) -> str:
    lines = [
        "| space | top-1 agreement (3 notes) | all takes | pair agreement | rank corr. "
        "| same gender | top score (q1/med/q3) | 5th | identity fires | clean | pitch ±2 "
        "| phone | loud beat | own score (clean) |",
        "|---|" + "---:|" * 13,
    ]
    for space, r in doc["spaces"].items():
        m, c = r["members"], r["catalogue_voices"]
        pitch = (c["pitch+2"]["top1"] + c["pitch-2"]["top1"]) / 2
        cells = [
            space,
            f"{m['top1_agreement_3_notes']:.3f}",
            f"{m['top1_agreement']:.3f}",
            f"{m['top1_pair_agreement']:.3f}",
            f"{m['rank_correlation']:.3f}",
            f"{m['same_gender_top1']:.3f}",
            "/".join(f"{v:.0f}" for v in m["top1_score"]),
            f"{m['fifth_score'][1]:.0f}",
            f"{m['identity_fires']:.3f}",
            f"{c['clean']['top1']:.3f}",
            f"{pitch:.3f}",
            f"{c['phone']['top1']:.3f}",
            f"{c['loud_beat']['top1']:.3f}",
            f"{c['clean']['own_score_median']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/bench/corpus"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/bench/heads-embeddings.npz"))
    ap.add_argument("--spaces", default=",".join(SPACES))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--fold-seed", type=int, default=0)
    ap.add_argument("--head-seed", type=int, default=0)
    ap.add_argument("--query-seed", type=int, default=7, help="as bench.accuracy's --seed")
    ap.add_argument("--latency", action="store_true", help="only time Matcher.rank")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("inference").setLevel(logging.WARNING)
    emb = embed_corpus(args.corpus, args.query_seed, args.cache)
    from inference.runtime import limit_threads

    limit_threads()
    if args.latency:
        emit({"corpus": str(args.corpus), "rank": rank_latency(emb)}, args.out)
        return 0
    genders = read_genders(args.corpus)
    doc: dict = {
        "corpus": str(args.corpus),
        "voices": len(set(emb.artist)),
        "folds": args.folds,
        "spaces": {},
    }
    for space in args.spaces.split(","):
        doc["spaces"][space] = evaluate_space(emb, genders, space, args)
    emit(doc, args.out)
    print(markdown(doc), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
