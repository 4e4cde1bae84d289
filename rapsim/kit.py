"""``rapsim train``: train heads on a catalogue's embeddings and store them beside it.

Heads are written to ``CATALOG/heads/<kind>.pt`` (self-describing: config, encoder id,
loss history). Analysis does not use them yet: a head replaces the catalogue's LDA space
only once ``rapsim evaluate`` shows it matches better on held-out recordings.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("rapsim")

HEAD_DIR = "heads"


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from inference import Catalog
    from models import HeadConfig, save_head, train_head
    from models.data import CatalogData

    catalog = Catalog.load(args.catalog)
    data = CatalogData.from_catalog(catalog)
    kinds = ("siamese", "classifier") if args.head == "both" else (args.head,)
    print(
        f"{len(data.y)} clips ({int(data.original.sum())} recorded, the rest augmented), "
        f"{len(data.artists)} artists, {data.recordings} recordings"
    )
    for kind in kinds:
        config = HeadConfig(
            input_dim=data.X.shape[1],
            kind=kind,
            loss=args.loss if kind == "siamese" else "",
            epochs=args.epochs,
            seed=args.seed,
            artists=data.artists if kind == "classifier" else (),
        )
        with tqdm(total=config.epochs, desc=f"{kind} ({config.loss})", file=sys.stderr) as bar:

            def tick(epoch, bar=bar) -> None:
                bar.update(1)
                bar.set_postfix(train=f"{epoch.train_loss:.3f}", val=f"{epoch.val_loss:.3f}")

            result = train_head(
                config, data.X, data.y, data.groups, encoder=data.encoder, progress=tick
            )
        out = Path(args.catalog) / HEAD_DIR / f"{kind}.pt"
        save_head(out, result.head, config, result.encoder, result.history)
        stop = "early stop" if result.stopped_early else "all epochs"
        print(
            f"{kind}: best epoch {result.best_epoch} (val loss {result.best_val_loss:.4f}, "
            f"{stop}), {result.seconds:.1f} s -> {out}"
        )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a Siamese and/or classifier head on a catalogue")
    p.add_argument("catalog", metavar="CATALOG_DIR")
    p.add_argument("--head", choices=("siamese", "classifier", "both"), default="both")
    p.add_argument(
        "--loss",
        choices=("contrastive", "triplet", "supcon"),
        default="contrastive",
        help="Siamese head loss (default: contrastive, margin 0.1)",
    )
    p.add_argument("--epochs", type=int, default=100, help="at most (early stopping)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train)
