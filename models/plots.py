"""README-grade figures of an evaluation: where the artists sit and how well they separate.

Everything is drawn from held-out data gathered by ``evaluate_kfold(collect=True)``
(``models.evaluate.SpaceDetails``), so a figure never shows a head judging clips it was
trained on, except the t-SNE, which shows the first fold's training clips (dots) with
its held-out clips (rings) in that fold's space:

* ``tsne.png``: t-SNE (cosine) of the first fold, coloured by artist;
* ``silhouette.png``: mean held-out cosine silhouette per artist, sorted;
* ``similarity.png``: artist-by-artist mean cosine between held-out clips;
* ``threshold.png``: accuracy, false accepts and false rejects of "same artist?" against
  the cosine threshold, with the best-accuracy threshold and the equal-error point;
* ``confusion.png``: nearest-centroid predictions of held-out clips, rows normalised.

``mel_page`` draws each artist's catalogue reference spectrogram (the window with the
most voice) on one page. matplotlib with the Agg backend; no display needed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DPI = 110
MAX_TICK_LABELS = 60  # above this many artists, axes of square plots carry no names
MEL_PAGE_FRAMES = 250  # time columns per spectrogram on the mel page (max-pooled)
MEL_PAGE_DPI = 80
PLOTS = ("tsne", "silhouette", "similarity", "threshold", "confusion")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colours(n: int) -> list[Any]:
    plt = _pyplot()
    base = [*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors]
    return [base[i % len(base)] for i in range(n)]


def _save(fig: Any, path: Path, dpi: int = DPI, colours: int = 0) -> Path:
    """Write ``fig`` as PNG; with ``colours``, as a palette PNG of that many colours
    (a page of spectrograms is 3x smaller that way and looks the same)."""
    import io

    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    if colours:
        with Image.open(buf) as im:
            im.convert("RGB").quantize(colours).save(path, optimize=True)
    else:
        path.write_bytes(buf.getvalue())
    return path


def _square_axes(ax: Any, names: Sequence[str]) -> None:
    n = len(names)
    if n > MAX_TICK_LABELS:
        ax.set_xticks([])
        ax.set_yticks([])
        return
    size = max(4.0, min(9.0, 400.0 / max(n, 1)))
    ax.set_xticks(range(n), names, rotation=90, fontsize=size)
    ax.set_yticks(range(n), names, fontsize=size)


def tsne(details: Any, names: Sequence[str], path: Path, title: str, seed: int = 0) -> Path | None:
    """t-SNE of the first fold's training clips (dots) and held-out clips (rings)."""
    from sklearn.manifold import TSNE

    f = details.first_fold
    if not f:
        return None
    Z = np.concatenate([f["train"], f["test"]])
    y = np.concatenate([f["train_y"], f["test_y"]])
    if len(Z) < 5:
        return None
    perplexity = float(min(30.0, (len(Z) - 1) / 3))
    xy = TSNE(
        n_components=2, metric="cosine", init="pca", perplexity=perplexity, random_state=seed
    ).fit_transform(np.asarray(Z, np.float64))
    n_train = len(f["train"])
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 7))
    colours = _colours(len(names))
    for a in np.unique(y):
        tr = np.flatnonzero(y[:n_train] == a)
        te = n_train + np.flatnonzero(y[n_train:] == a)
        c = colours[int(a)]
        ax.scatter(xy[tr, 0], xy[tr, 1], s=10, color=c, alpha=0.6, label=names[int(a)])
        ax.scatter(xy[te, 0], xy[te, 1], s=60, facecolors="none", edgecolors=[c], linewidths=1.5)
    ax.set_title(f"{title}: t-SNE, first fold (dots: training clips, rings: held out)")
    ax.set_xticks([])
    ax.set_yticks([])
    if len(names) <= MAX_TICK_LABELS:
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=7,
            ncol=1 + len(names) // 30,
            markerscale=1.5,
            frameon=False,
        )
    return _save(fig, path)


def silhouette(details: Any, names: Sequence[str], path: Path, title: str) -> Path | None:
    per = details.silhouette_by_artist()
    if not per:
        return None
    order = sorted(per, key=per.get)
    values = [per[a] for a in order]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.18 * len(order) + 1)))
    ax.barh(range(len(order)), values, color=["tab:red" if v < 0 else "tab:blue" for v in values])
    ax.set_yticks(range(len(order)), [names[a] for a in order], fontsize=7)
    mean = float(np.nanmean(np.concatenate(details.silhouettes)))
    ax.axvline(mean, color="k", linestyle="--", linewidth=1, label=f"mean {mean:.3f}")
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("cosine silhouette of held-out clips")
    ax.set_title(f"{title}: silhouette by artist")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def similarity(details: Any, names: Sequence[str], path: Path, title: str) -> Path | None:
    sim = details.similarity()
    if not np.isfinite(sim).any():
        return None
    plt = _pyplot()
    side = max(5.0, min(14.0, 0.22 * len(names) + 3))
    fig, ax = plt.subplots(figsize=(side + 1, side))
    im = ax.imshow(np.ma.masked_invalid(sim), cmap="viridis", interpolation="nearest")
    _square_axes(ax, names)
    fig.colorbar(im, ax=ax, shrink=0.8, label="mean cosine between held-out clips")
    ax.set_title(f"{title}: artist-by-artist similarity")
    return _save(fig, path)


def threshold(details: Any, path: Path, title: str) -> Path | None:
    from . import metrics

    sims, same = details.pairs()
    if not same.any() or same.all():
        return None
    ts = np.linspace(float(sims.min()), float(sims.max()), 400)
    acc, far, frr = metrics.threshold_curve_from_pairs(sims, same, ts)
    best = int(np.nanargmax(acc))
    eer = int(np.nanargmin(np.abs(far - frr)))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(ts, acc, label="accuracy")
    ax.plot(ts, far, label="false accept rate")
    ax.plot(ts, frr, label="false reject rate")
    ax.axvline(
        ts[best],
        color="k",
        linestyle="--",
        linewidth=1,
        label=f"best accuracy {acc[best]:.3f} at {ts[best]:.2f}",
    )
    ax.plot([ts[eer]], [far[eer]], "ko", label=f"equal error {(far[eer] + frr[eer]) / 2:.3f}")
    ax.set_xlabel("cosine threshold (pair called 'same artist' at or above it)")
    ax.set_ylim(0, 1.01)
    ax.set_title(f"{title}: same/different artist vs threshold (held-out pairs)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def confusion(details: Any, names: Sequence[str], path: Path, title: str) -> Path | None:
    counts = details.confusion()
    if counts.sum() == 0:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = counts / counts.sum(axis=1, keepdims=True)
    acc = np.trace(counts) / counts.sum()
    plt = _pyplot()
    side = max(5.0, min(14.0, 0.22 * len(names) + 3))
    fig, ax = plt.subplots(figsize=(side + 1, side))
    im = ax.imshow(np.ma.masked_invalid(rate), cmap="Blues", vmin=0, vmax=1)
    _square_axes(ax, names)
    ax.set_xlabel("predicted (nearest centroid)")
    ax.set_ylabel("true artist")
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the artist's held-out clips")
    ax.set_title(f"{title}: confusion, held-out clips (accuracy {acc:.3f})")
    return _save(fig, path)


def write_plots(
    details: Mapping[str, Any], names: Sequence[str], out_dir: str | Path, seed: int = 0
) -> list[Path]:
    """Every plot of every method into ``out_dir/<method>/<plot>.png``; returns the files
    written (a plot with nothing to show, e.g. no held-out pair of one artist, is skipped)."""
    out, written = Path(out_dir), []
    for method, d in details.items():
        folder = out / method.replace("+", "_")
        made = [
            tsne(d, names, folder / "tsne.png", method, seed),
            silhouette(d, names, folder / "silhouette.png", method),
            similarity(d, names, folder / "similarity.png", method),
            threshold(d, folder / "threshold.png", method),
            confusion(d, names, folder / "confusion.png", method),
        ]
        written += [p for p in made if p is not None]
    return written


def mel_page(
    refs: Mapping[int, np.ndarray], names: Sequence[str], path: str | Path, seconds: float
) -> Path | None:
    """A grid of each artist's reference mel spectrogram (uint8 (n_mels, frames), low bands
    first, as ``inference.picture.mel.mel_image`` makes them); ``seconds`` is the window length
    the frames cover when full."""
    ids = [a for a in sorted(refs) if 0 <= a < len(names) and refs[a].size]
    if not ids:
        return None
    plt = _pyplot()
    cols = min(6, len(ids))
    rows = -(-len(ids) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 1.5 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, a in zip(axes.flat, ids, strict=False):
        mel = refs[a]
        step = max(1, mel.shape[1] // MEL_PAGE_FRAMES)  # a README page, not a zoom: max-pool
        cut = mel[:, : mel.shape[1] // step * step].reshape(mel.shape[0], -1, step).max(axis=2)
        ax.imshow(cut, origin="lower", aspect="auto", cmap="magma", vmin=0, vmax=255)
        ax.set_title(names[a], fontsize=8)
    fig.suptitle(
        f"Mel spectrogram by artist (each artist's most voiced catalogue window, up to "
        f"{seconds:.0f} s; low frequencies at the bottom)",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, Path(path), dpi=MEL_PAGE_DPI, colours=128)
