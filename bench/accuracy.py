"""Accuracy benchmark: catalogue from a corpus's train clips, queries from its test clips.

Corpus: ``bench/make_corpus.sh`` (``../shared/corpus/make_corpus.py --split-text --opus
--with-beat-prob 0.5``: unseen lyrics at test time, a beat under half the clips). The
catalogue is built by ``rapsim``'s own code from the 16 kHz train wavs; each query is a
test clip's ogg/opus copy, decoded like a member's note, then put through a condition
from ``bench.conditions`` (clean, sound-alike pitch/tempo changes, phone in a room,
loud beat, low bitrate, noise).

Prints one JSON object: per condition top-1, hit@5, same/different ROC AUC and cosine
silhouette over query embeddings in matching space, top-1 per engine; with
``--baseline``, the naive pipeline (Resemblyzer's own preprocessing, one centroid per
artist) under the same conditions.

    python -m bench.accuracy --corpus /tmp/bench/corpus --out bench/out/accuracy.json
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score, silhouette_score

from bench.conditions import CONDITIONS
from bench.music import MUSIC_CONDITIONS
from bench.table import emit
from inference import (
    Catalog,
    Pipeline,
    PipelineOptions,
    RapsimError,
    build_catalog,
    load_encoder,
)
from inference.catalog.matching import Matcher

log = logging.getLogger("bench.accuracy")


def read_manifest(corpus: Path) -> list[dict[str, str]]:
    with open(corpus / "manifest.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def link_train_clips(corpus: Path, rows: list[dict[str, str]], into: Path) -> None:
    for r in rows:
        if r["split"] != "train":
            continue
        d = into / r["identity"]
        d.mkdir(parents=True, exist_ok=True)
        (d / Path(r["path"]).name).symlink_to((corpus / r["path"]).resolve())


def pair_auc_silhouette(vectors: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    sims = vectors @ vectors.T
    iu = np.triu_indices(len(labels), k=1)
    same = (labels[:, None] == labels[None, :])[iu]
    auc = float(roc_auc_score(same, sims[iu])) if same.any() and (~same).any() else float("nan")
    sil = (
        float(silhouette_score(vectors, labels, metric="cosine"))
        if 1 < len(set(labels)) < len(labels)  # silhouette needs a voice with 2+ queries
        else float("nan")
    )
    return auc, sil


def summarize(results: list[dict], vectors: np.ndarray, engines: list[str]) -> dict:
    labels = np.array([r["identity"] for r in results])
    top1 = np.array([r["top1"] for r in results])
    auc, sil = pair_auc_silhouette(vectors, labels)
    per_engine = {
        e: round(float(top1[np.array(engines) == e].mean()), 4) for e in sorted(set(engines))
    }
    return {
        "queries": len(results),
        "top1": round(float(top1.mean()), 4),
        "hit5": round(float(np.mean([r["hit5"] for r in results])), 4),
        "auc": round(auc, 4),
        "silhouette": round(sil, 4),
        "top1_by_engine": per_engine,
    }


def run_condition(
    name: str,
    queries: list[dict],
    pipeline: Pipeline,
    matcher: Matcher,
    corpus: Path,
    seed: int,
    head_matcher: Matcher | None = None,
) -> tuple[dict, list[tuple[str, np.ndarray]]]:
    """Summary of one condition, and the degraded queries (for the naive baseline). With
    ``head_matcher``, the same embeddings are also ranked in the head's space
    (``summary["head"]``)."""
    condition = {**CONDITIONS, **MUSIC_CONDITIONS}[name]
    results, vectors, engines, baseline = [], [], [], []
    head_results, head_vectors = [], []
    failures = 0
    for i, q in enumerate(queries):
        rng = np.random.default_rng([seed, i])
        wav = condition(pipeline.decode(corpus / q["opus_path"]).wav, rng)
        try:
            embedding = pipeline.embedding_from_wav(wav)  # style and image do not rank
        except RapsimError as e:
            failures += 1
            log.warning("%s %s: %s", name, q["path"], e)
            continue
        for m, res, vec in (
            (matcher, results, vectors),
            (head_matcher, head_results, head_vectors),
        ):
            if m is None:
                continue
            ranked = [x.artist for x in m.rank(embedding, top_k=5)]
            res.append(
                {
                    "identity": q["identity"],
                    "top1": ranked[0] == q["identity"],
                    "hit5": q["identity"] in ranked,
                }
            )
            vec.append(m.project(embedding))
        engines.append(q["engine"])
        baseline.append((q["identity"], wav))
    summary = summarize(results, np.stack(vectors), engines)
    summary["failed"] = failures
    if head_matcher is not None:
        summary["head"] = summarize(head_results, np.stack(head_vectors), engines)
    return summary, baseline


def train_head_matcher(catalog, loss: str, seed: int) -> tuple[Matcher, dict]:
    """The catalogue switched to a Siamese head trained on it (as ``rapsim train`` does)."""
    from models import HeadConfig, train_head
    from models.data import CatalogData
    from models.space import use_head

    data = CatalogData.from_catalog(catalog)
    config = HeadConfig(input_dim=data.X.shape[1], loss=loss, seed=seed)
    t0 = time.perf_counter()
    result = train_head(config, data.X, data.y, data.groups, encoder=data.encoder)
    head_catalog = use_head(catalog, result.head, config, {"encoder": result.encoder})
    info = {"loss": loss, "seed": seed, "train_seconds": round(time.perf_counter() - t0, 1)}
    return Matcher(head_catalog), info


class NaiveBaseline:
    """Resemblyzer's preprocess_wav + embed_utterance, one centroid per artist."""

    def __init__(self, corpus: Path, rows: list[dict[str, str]]) -> None:
        from resemblyzer import VoiceEncoder, preprocess_wav

        self._pre, self._enc = preprocess_wav, VoiceEncoder("cpu", verbose=False)
        by_artist: dict[str, list[np.ndarray]] = defaultdict(list)
        for r in rows:
            if r["split"] == "train":
                by_artist[r["identity"]].append(self.embed(self._load(corpus / r["path"])))
        self.names = sorted(by_artist)
        cents = np.stack([np.mean(by_artist[a], axis=0) for a in self.names])
        self.centroids = cents / np.linalg.norm(cents, axis=1, keepdims=True)

    @staticmethod
    def _load(path: Path) -> np.ndarray:
        import soundfile as sf

        wav, _ = sf.read(path, dtype="float32")
        return wav

    def embed(self, wav: np.ndarray) -> np.ndarray:
        return self._enc.embed_utterance(self._pre(wav, source_sr=16000))

    def evaluate(self, queries: list[tuple[str, np.ndarray]]) -> dict:
        embs = np.stack([self.embed(w) for _, w in queries])
        labels = np.array([a for a, _ in queries])
        best = np.array(self.names)[np.argmax(embs @ self.centroids.T, axis=1)]
        auc, sil = pair_auc_silhouette(embs, labels)
        return {
            "top1": round(float((best == labels).mean()), 4),
            "auc": round(auc, 4),
            "silhouette": round(sil, 4),
        }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/bench/corpus"))
    ap.add_argument("--encoder", default="resemblyzer")
    ap.add_argument("--projection", default="lda", choices=("none", "wccn", "lda"))
    ap.add_argument("--top-n", type=int, default=3, help="clips averaged per artist")
    ap.add_argument("--suppress-beat", action="store_true")
    ap.add_argument("--augment", default="channel", choices=("none", "gallery", "channel"))
    ap.add_argument("--conditions", default=",".join([*CONDITIONS, *MUSIC_CONDITIONS]))
    ap.add_argument("--limit", type=int, default=0, help="at most this many queries (0: all)")
    ap.add_argument("--baseline", action="store_true", help="also run the naive pipeline")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--head",
        choices=("contrastive", "triplet", "supcon"),
        help="also rank in the space of a Siamese head with this loss trained on the catalogue",
    )
    ap.add_argument("--head-seed", type=int, default=0)
    ap.add_argument("--keep-catalog", type=Path, help="save the built catalogue here")
    ap.add_argument("--catalog", type=Path, help="use this catalogue (--keep-catalog) instead")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    rows = read_manifest(args.corpus)
    queries = [r for r in rows if r["split"] == "test" and r.get("opus_path")]
    if args.limit:
        queries = queries[:: max(1, len(queries) // args.limit)][: args.limit]
    pipeline = Pipeline(
        load_encoder(args.encoder), PipelineOptions(suppress_beat=args.suppress_beat)
    )
    pipeline.warmup()
    t0 = time.perf_counter()
    skipped = 0
    if args.catalog:
        catalog = Catalog.load(args.catalog)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            link_train_clips(args.corpus, rows, Path(tmp))
            catalog, report = build_catalog(
                tmp, pipeline, projection=args.projection, top_n=args.top_n, augment=args.augment
            )
        skipped = len(report.skipped)
    build_s = time.perf_counter() - t0
    if args.keep_catalog:
        catalog.save(args.keep_catalog)
    matcher = Matcher(catalog)
    head_matcher, head_info = (
        train_head_matcher(catalog, args.head, args.head_seed) if args.head else (None, None)
    )
    baseline = NaiveBaseline(args.corpus, rows) if args.baseline else None
    out: dict = {
        "corpus": str(args.corpus),
        "encoder": f"{catalog.encoder['name']} {catalog.encoder['version']}",
        "projection": args.projection,
        "top_n": args.top_n,
        "suppress_beat": args.suppress_beat,
        "augment": args.augment,
        "artists": len(catalog.artists),
        "catalog_clips": len(catalog.clips),
        "catalog_skipped": skipped,
        "catalog_loaded": str(args.catalog or ""),
        "build_seconds": round(build_s, 1),
        "head": head_info,
        "conditions": {},
    }
    for name in args.conditions.split(","):
        t = time.perf_counter()
        summary, degraded = run_condition(
            name, queries, pipeline, matcher, args.corpus, args.seed, head_matcher
        )
        if baseline:
            summary["naive_baseline"] = baseline.evaluate(degraded)
        summary["seconds"] = round(time.perf_counter() - t, 1)
        out["conditions"][name] = summary
        log.info("%s: %s", name, json.dumps(summary))
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
