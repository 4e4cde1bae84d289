"""``rapsim train`` and ``rapsim evaluate``: the training kit's commands.

``train`` fits heads on a catalogue's embeddings and stores them beside it;
``evaluate`` runs the stratified group k-fold (by recording) and prints the table.

Heads are written to ``CATALOG/heads/<kind>.pt`` (self-describing: config, encoder id,
loss history). The catalogue keeps ranking in its LDA space unless ``--use siamese`` (or
``classifier``) switches it to that head's space (``models.space``): a supervised-
contrastive head identifies catalogue voices on phone notes better (``bench.heads``), but
ranks voices that are not in the catalogue (every member) less stably than LDA on both
benchmark corpora (``bench.resemblance``, README), so it is not the default.
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
    from models.space import drop_head, use_head

    catalog = Catalog.load(args.catalog)
    data = CatalogData.from_catalog(catalog)
    kinds = ("siamese", "classifier") if args.head == "both" else (args.head,)
    if args.use != "none" and args.use not in kinds:
        print(f"rapsim: --use {args.use} needs --head {args.use} or both", file=sys.stderr)
        return 2
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
        if kind == args.use:
            meta = {"encoder": result.encoder}
            catalog = use_head(catalog, result.head, config, meta, file=f"{HEAD_DIR}/{kind}.pt")
            catalog.save(args.catalog)
            print(f"the catalogue now ranks artists in the {kind} head's space ({config.loss})")
    if args.use == "none" and catalog.matching.get("projection", "").startswith("head:"):
        drop_head(catalog).save(args.catalog)
        print("the catalogue ranks artists in its LDA space again")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from inference import Catalog
    from models.data import CatalogData
    from models.evaluate import evaluate_kfold, markdown_table

    catalog = Catalog.load(args.catalog)
    data = CatalogData.from_catalog(catalog)
    heads = () if args.no_heads else ("siamese", "classifier")
    result = evaluate_kfold(
        data.X,
        data.y,
        data.groups,
        data.styles,
        original=data.original,
        artists=data.artists,
        folds=args.folds,
        seed=args.seed,
        heads=heads,
        head_epochs=args.epochs,
        progress=lambda line: print(line, file=sys.stderr),
        collect=bool(args.plots),
        siamese_loss=args.loss,
    )
    details = result.pop("details", {})
    print(markdown_table(result))
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {out}")
    if args.plots:
        from inference.constants import CATALOG_WINDOW_SECONDS
        from models.plots import PLOTS, mel_page, write_plots

        files = write_plots(details, data.artists, args.plots, seed=args.seed)
        page = mel_page(
            catalog.refs,
            data.artists,
            Path(args.plots) / "mel_by_artist.png",
            CATALOG_WINDOW_SECONDS,
        )
        files += [page] if page else []
        print(f"wrote {len(files)} plots to {args.plots}")
        skipped = sorted(set(PLOTS) - {f.stem for f in files})
        if skipped:
            print(
                f"not drawn: {', '.join(skipped)} (they need two held-out clips of one artist "
                "in a fold: more recordings per artist or fewer --folds)"
            )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a Siamese and/or classifier head on a catalogue")
    p.add_argument("catalog", metavar="CATALOG_DIR")
    p.add_argument("--head", choices=("siamese", "classifier", "both"), default="both")
    p.add_argument(
        "--loss",
        choices=("contrastive", "triplet", "supcon"),
        default="supcon",
        help="Siamese head loss (default: supcon, the benchmark's best; contrastive uses "
        "margin 0.1 like the origin project)",
    )
    p.add_argument(
        "--use",
        choices=("siamese", "classifier", "none"),
        default="none",
        help="rank the catalogue's artists in this head's space from now on; none (the "
        "default) keeps or restores the LDA space, which ranks members (voices not in the "
        "catalogue) more stably",
    )
    p.add_argument("--epochs", type=int, default=100, help="at most (early stopping)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "evaluate",
        help="stratified group k-fold: raw encoder vs heads vs style fusion (table)",
    )
    p.add_argument("catalog", metavar="CATALOG_DIR")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="cap head training epochs")
    p.add_argument("--no-heads", action="store_true", help="raw encoder and style fusion only")
    p.add_argument(
        "--loss",
        choices=("contrastive", "triplet", "supcon"),
        default="supcon",
        help="the Siamese head's loss (default: supcon, as rapsim train)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the full result as JSON")
    p.add_argument(
        "--plots",
        metavar="DIR",
        help="also draw t-SNE, silhouette, similarity, threshold and confusion plots per "
        "method (DIR/<method>/*.png) and the mel spectrogram page",
    )
    p.set_defaults(func=cmd_evaluate)
