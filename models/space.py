"""Put a trained head into a catalogue: analysis then ranks artists in the head's space.

The head's weights become arrays in the catalogue's ``projection.npz``
(``inference.catalog.matching.HEAD_KEYS``), applied in numpy by
``inference.catalog.matching``, so the
inference workers need neither this package nor torch to use them. The calibrations and
the faiss index are refitted in the head's space (``inference.refit_matching``);
nothing is re-embedded. The resemblance scales hold artists out, so heads like this one
are trained without them (``fold_trainer``).

    catalog = use_head(Catalog.load(path), head, config, meta, file="heads/siamese.pt")
    catalog.save(path)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from torch import nn

from inference import Catalog, refit_matching
from inference.catalog.matching import HEAD_PREFIX
from inference.catalog.resemblance import FitSpace

from .errors import HeadError
from .heads import Head, HeadConfig
from .train import train_head


def head_projection(head: Head) -> dict[str, np.ndarray]:
    """The head's trunk (Linear, LayerNorm, GELU, Dropout, Linear) as float32 arrays."""
    trunk = head.trunk
    first, norm, act, _, last = trunk
    if not (
        isinstance(first, nn.Linear)
        and isinstance(norm, nn.LayerNorm)
        and isinstance(act, nn.GELU)
        and act.approximate == "none"
        and isinstance(last, nn.Linear)
    ):
        raise HeadError("this head's layers are not the Linear-LayerNorm-GELU-Linear trunk")

    def arr(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32)

    return {
        "w1": arr(first.weight),
        "b1": arr(first.bias),
        "ln_w": arr(norm.weight),
        "ln_b": arr(norm.bias),
        "ln_eps": np.asarray(norm.eps, dtype=np.float32),
        "w2": arr(last.weight),
        "b2": arr(last.bias),
    }


def use_head(
    catalog: Catalog,
    head: Head,
    config: HeadConfig,
    meta: Mapping[str, Any],
    *,
    file: str = "",
) -> Catalog:
    """A catalogue that ranks with ``head`` (loaded with ``models.load_head`` for this
    catalogue's encoder). ``meta`` is load_head's metadata; ``file`` where the head lives,
    recorded in the manifest for people reading it."""
    enc = meta.get("encoder", {})
    if (enc.get("name"), enc.get("version")) != (
        catalog.encoder["name"],
        catalog.encoder["version"],
    ) or config.input_dim != int(catalog.encoder["dim"]):
        raise HeadError(
            f"this head was trained on {enc.get('name')} {enc.get('version')} embeddings; "
            f"the catalogue holds {catalog.encoder['name']} {catalog.encoder['version']}"
        )
    info = {"kind": config.kind, "loss": config.loss, "file": file, "seed": config.seed}
    return refit_matching(
        catalog,
        projection=f"{HEAD_PREFIX}{config.kind}/{config.loss}",
        head={
            "projection": head_projection(head),
            "info": info,
            "refit": fold_trainer(config, enc),
            "folds": HEAD_REFERENCE_FOLDS,
        },
    )


# Heads trained for the resemblance scales: 5 folds of artists (LDA uses 10; 5 and 10 gave
# the same scale for LDA), so `rapsim train` trains 5 more heads, not 10.
HEAD_REFERENCE_FOLDS = 5


def fold_trainer(config: HeadConfig, encoder: Mapping[str, Any]) -> FitSpace:
    """(embeddings, labels, groups) -> the projection of a head like ``config`` trained on
    just those: what the resemblance scales need for the artists they hold out
    (``inference.catalog.matching.fit_matching``), so that voices a head never saw are scaled
    as voices it never saw (``HEAD_REFERENCE_FOLDS`` trainings of a few seconds)."""

    def refit(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
        present, labels = np.unique(y, return_inverse=True)
        cfg = config
        if config.kind == "classifier":
            cfg = replace(config, artists=tuple(config.artists[i] for i in present))
        return head_projection(train_head(cfg, x, labels, groups, encoder=encoder).head)

    return refit


def drop_head(catalog: Catalog, projection: str = "lda") -> Catalog:
    """The catalogue back on a fitted projection (default LDA) instead of a head."""
    return refit_matching(catalog, projection=projection)
