"""Augmentation and head study: which matching space keeps the voice and drops the recording?

Catalogue from the benchmark corpus's train clips (as ``bench.accuracy``), queries from its
test clips under every condition of ``bench.conditions``. Each method is a gallery (the
recorded windows plus an augmentation set from ``inference.build.augment.AUGMENT_SETS``) and a
space fitted on that gallery: raw encoder, LDA (the shipped default with ``gallery``), a
Siamese head (contrastive or supervised-contrastive loss) or a classifier head (its
trunk for cosine ranking, its softmax for ``classifier-softmax``). Ranking is the same as
the product's ``Matcher``: mean of each artist's 3 best clip similarities.

Embedding is the slow part (about 5 minutes on 2 cores), so embeddings are cached in
``--cache``; re-running with another method list costs only the fitting.

    python -m bench.heads --corpus /tmp/bench/corpus --out bench/out/heads.json
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.accuracy import pair_auc_silhouette, read_manifest
from bench.conditions import CONDITIONS
from bench.table import emit, heads_table

log = logging.getLogger("bench.heads")

AUGMENT = "channel"  # the largest set: every smaller set is a subset of its variants
TOP_N = 3
TOP_K = 5
# name: (augmentation set of the gallery, space)
METHODS: dict[str, tuple[str, str]] = {
    "raw": ("none", "raw"),
    "raw+gallery": ("gallery", "raw"),
    "lda (no aug)": ("none", "lda"),
    "lda+gallery (shipped)": ("gallery", "lda"),
    "lda+channel": ("channel", "lda"),
    "siamese (no aug)": ("none", "siamese:contrastive"),
    "siamese+gallery": ("gallery", "siamese:contrastive"),
    "siamese+channel": ("channel", "siamese:contrastive"),
    "supcon (no aug)": ("none", "siamese:supcon"),
    "supcon+gallery": ("gallery", "siamese:supcon"),
    "supcon+channel": ("channel", "siamese:supcon"),
    "triplet+channel": ("channel", "siamese:triplet"),
    "classifier (no aug)": ("none", "classifier"),
    "classifier+channel": ("channel", "classifier"),
    "classifier-softmax+channel": ("channel", "classifier-softmax"),
}

_pipeline = None


def _init_worker() -> None:
    global _pipeline
    from inference import Pipeline, PipelineOptions, load_encoder

    _pipeline = Pipeline(load_encoder("resemblyzer"), PipelineOptions(threads=1))
    _pipeline.warmup()


def _embed_train(path: str) -> list[tuple[str, np.ndarray]]:
    """(variant, embedding) of a catalogue clip's windows: "" first, then every variant
    of ``AUGMENT``, drawn with the same seed scheme as ``inference.build.jobs``."""
    from inference import RapsimError
    from inference.build.augment import AUGMENT_SETS
    from inference.build.jobs import windows

    assert _pipeline is not None
    out: list[tuple[str, np.ndarray]] = []
    source = Path(path).parent.name + "/" + Path(path).name
    for start, chunk in windows(_pipeline.decode(path).wav):
        try:
            out.append(("", _pipeline.features_from_wav(chunk).embedding))
        except RapsimError:
            continue
        rng = np.random.default_rng(zlib.crc32(f"{source}@{start}".encode()))
        for name, make in AUGMENT_SETS[AUGMENT].items():
            try:
                out.append((name, _pipeline.embedding_from_wav(make(chunk, rng))))
            except RapsimError as e:
                log.debug("%s %s: %s", source, name, e)
    return out


def _embed_test(task: tuple[int, str, int]) -> np.ndarray:
    """(n_conditions, dim) embeddings of one query under every condition (nan: failed)."""
    from inference import RapsimError

    assert _pipeline is not None
    i, path, seed = task
    wav = _pipeline.decode(path).wav
    rows = []
    for condition in CONDITIONS.values():
        try:
            rows.append(
                _pipeline.embedding_from_wav(condition(wav, np.random.default_rng([seed, i])))
            )
        except RapsimError:
            rows.append(np.full(_pipeline.encoder.dim, np.nan, np.float32))
    return np.stack(rows)


@dataclass
class Embeddings:
    X: np.ndarray  # (n, dim) gallery rows
    variant: np.ndarray  # (n,) "" or the variant's name
    artist: np.ndarray  # (n,) identity
    group: np.ndarray  # (n,) recording
    Q: np.ndarray  # (n_conditions, n_queries, dim)
    q_artist: np.ndarray  # (n_queries,)
    conditions: list[str]


def embed_corpus(corpus: Path, seed: int, cache: Path | None) -> Embeddings:
    from inference.build.augment import AUGMENT_SETS

    key = json.dumps([str(corpus.resolve()), seed, sorted(AUGMENT_SETS[AUGMENT]), list(CONDITIONS)])
    if cache and cache.exists():
        z = np.load(cache, allow_pickle=False)
        if str(z["key"]) == key:
            log.info("embeddings from %s", cache)
            return Embeddings(
                z["X"],
                z["variant"],
                z["artist"],
                z["group"],
                z["Q"],
                z["q_artist"],
                [str(c) for c in z["conditions"]],
            )
    rows = read_manifest(corpus)
    train = [r for r in rows if r["split"] == "train"]
    queries = [r for r in rows if r["split"] == "test" and r.get("opus_path")]
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(2, initializer=_init_worker) as pool:
        gallery = pool.map(_embed_train, [str(corpus / r["path"]) for r in train], chunksize=4)
        log.info("gallery embedded in %.0f s", time.perf_counter() - t0)
        tasks = [(i, str(corpus / q["opus_path"]), seed) for i, q in enumerate(queries)]
        q = pool.map(_embed_test, tasks, chunksize=4)
    log.info("embedded in %.0f s", time.perf_counter() - t0)
    X, variant, artist, group = [], [], [], []
    for r, clip in zip(train, gallery, strict=True):
        for name, emb in clip:
            X.append(emb)
            variant.append(name)
            artist.append(r["identity"])
            group.append(r["path"])
    emb = Embeddings(
        np.stack(X).astype(np.float32),
        np.array(variant),
        np.array(artist),
        np.array(group),
        np.stack(q, axis=1).astype(np.float32),
        np.array([r["identity"] for r in queries]),
        list(CONDITIONS),
    )
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            cache,
            key=key,
            X=emb.X,
            variant=emb.variant,
            artist=emb.artist,
            group=emb.group,
            Q=emb.Q,
            q_artist=emb.q_artist,
            conditions=np.array(emb.conditions),
        )
    return emb


def fit_space(
    space: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray, names: list[str], seed: int
):
    """A function from encoder embeddings to unit vectors (or, for classifier-softmax,
    to artist probabilities), fitted on the gallery rows."""
    from inference.catalog.matching import fit_projection
    from inference.voice.base import l2_normalize

    if space == "raw":
        return l2_normalize
    if space == "lda":
        p = fit_projection(X, y, "lda")
        return lambda e: l2_normalize((e - p["mean"]) @ p["matrix"])
    from models import HeadConfig, apply_head, predict_proba, train_head

    kind, _, loss = space.partition(":")
    kind = "classifier" if kind.startswith("classifier") else kind
    config = HeadConfig(
        input_dim=X.shape[1],
        kind=kind,
        loss=loss,
        seed=seed,
        artists=tuple(names) if kind == "classifier" else (),
    )
    enc = {"name": "resemblyzer", "version": "bench", "dim": X.shape[1]}
    head = train_head(config, X, y, groups, encoder=enc).head
    if space == "classifier-softmax":
        return lambda e: predict_proba(head, e)
    return lambda e: apply_head(head, e)


def rank_scores(G: np.ndarray, g_lab: np.ndarray, Q: np.ndarray, n_artists: int) -> np.ndarray:
    """(n_queries, n_artists): mean of each artist's TOP_N best gallery similarities."""
    from inference.catalog.matching import aggregate

    sims = Q @ G.T
    order = np.argsort(-sims, axis=1)
    return np.stack(
        [aggregate(sims[i, order[i]], g_lab[order[i]], n_artists, TOP_N) for i in range(len(Q))]
    )


def evaluate_method(emb: Embeddings, name: str, seed: int) -> dict:
    augment, space = METHODS[name]
    from inference.build.augment import AUGMENT_SETS

    names = sorted(set(emb.artist))
    y = np.searchsorted(names, emb.artist)
    keep = (emb.variant == "") | np.isin(emb.variant, list(AUGMENT_SETS[augment]))
    t0 = time.perf_counter()
    f = fit_space(space, emb.X[keep], y[keep], emb.group[keep], names, seed)
    fit_s = time.perf_counter() - t0
    qy = np.searchsorted(names, emb.q_artist)
    out: dict = {"gallery_rows": int(keep.sum()), "fit_seconds": round(fit_s, 1), "conditions": {}}
    G = None if space == "classifier-softmax" else f(emb.X[keep])
    for c, cond in enumerate(emb.conditions):
        ok = np.isfinite(emb.Q[c]).all(axis=1)
        Qv = f(emb.Q[c][ok])
        scores = Qv if G is None else rank_scores(G, y[keep], Qv, len(names))
        top = np.argsort(-scores, axis=1)[:, :TOP_K]
        res = {
            "top1": round(float(np.mean(top[:, 0] == qy[ok])), 4),
            "hit5": round(float(np.mean((top == qy[ok][:, None]).any(axis=1))), 4),
            "failed": int((~ok).sum()),
        }
        if G is not None:
            auc, sil = pair_auc_silhouette(Qv, qy[ok])
            res.update(auc=round(auc, 4), silhouette=round(sil, 4))
        out["conditions"][cond] = res
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/bench/corpus"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/bench/heads-embeddings.npz"))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", default="0", help="head seeds, comma separated (mean reported)")
    ap.add_argument("--query-seed", type=int, default=7, help="as bench.accuracy's --seed")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from inference.runtime import limit_threads

    emb = embed_corpus(args.corpus, args.query_seed, args.cache)
    limit_threads()
    seeds = [int(s) for s in args.seeds.split(",")]
    doc: dict = {
        "corpus": str(args.corpus),
        "artists": len(set(emb.artist)),
        "recordings": len(set(emb.group)),
        "queries": len(emb.q_artist),
        "head_seeds": seeds,
        "conditions": emb.conditions,
        "methods": {},
    }
    for name in args.methods.split(","):
        runs = [
            evaluate_method(emb, name, s)
            for s in (
                seeds if ":" in METHODS[name][1] or "classifier" in METHODS[name][1] else seeds[:1]
            )
        ]
        merged = runs[0]
        for cond in emb.conditions:
            for k in ("top1", "hit5", "auc", "silhouette"):
                vals = [r["conditions"][cond][k] for r in runs if k in r["conditions"][cond]]
                if vals:
                    merged["conditions"][cond][k] = round(float(np.mean(vals)), 4)
                    if len(vals) > 1:
                        merged["conditions"][cond][k + "_std"] = round(float(np.std(vals)), 4)
        doc["methods"][name] = merged
        log.info("%s: %s", name, {c: v["top1"] for c, v in merged["conditions"].items()})
    emit(doc, args.out)
    print(heads_table(doc), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
