"""A catalogue's clips as training arrays: embeddings, artist ids, recording ids, styles.

The one place that turns an ``inference.Catalog`` into what ``train_head`` and
``evaluate_kfold`` take. Gallery augmentations keep their recording's id (``Clip.source``),
so a split by recording keeps every copy of a clip on one side. It reads nothing from disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from inference import Catalog


@dataclass(frozen=True)
class CatalogData:
    X: np.ndarray = field(repr=False)  # float32 (n, dim), unit rows, encoder space
    y: np.ndarray = field(repr=False)  # int64 (n,), index into ``artists``
    groups: np.ndarray = field(repr=False)  # str (n,), "<artist>/<recording>"
    original: np.ndarray = field(repr=False)  # bool (n,), False for augmented copies
    styles: np.ndarray = field(repr=False)  # float32 (n, 8), nan = not measured
    artists: tuple[str, ...]
    encoder: dict

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> CatalogData:
        # Two artists may both have a "verse1.mp3": the artist is part of the recording id.
        groups = np.array([f"{c.artist}/{c.source}" for c in catalog.clips])
        return cls(
            X=catalog.embeddings,
            y=catalog.clip_artist,
            groups=groups,
            original=catalog.original,
            styles=catalog.styles,
            artists=tuple(catalog.artists),
            encoder=dict(catalog.encoder),
        )

    @property
    def recordings(self) -> int:
        return len(np.unique(self.groups))
