"""Rap Simulator training kit: trainable heads over frozen encoder embeddings.

A head maps encoder embeddings to a space where one artist's clips sit together across
recordings. The public names below are the whole API; the CLI and the evaluation code
use only these.

    from models import HeadConfig, train_head, save_head, load_head, apply_head
    config = HeadConfig(input_dim=catalog.encoder["dim"], loss="supcon")
    result = train_head(config, catalog.embeddings, catalog.clip_artist, groups,
                        encoder=catalog.encoder)
    save_head("heads/supcon.pt", result.head, config, result.encoder, result.history)
    head, config, meta = load_head("heads/supcon.pt", expect_encoder=catalog.encoder)
    vectors = apply_head(head, embeddings)     # float32 (n, output_dim), unit rows

Evaluation lives in ``models.metrics`` (pair AUC, threshold accuracy, centroid accuracy,
silhouette, P@k), ``models.evaluate`` (stratified group k-fold over recordings, the
table) and ``models.plots`` (figures from the held-out folds); ``models.data`` turns a
catalogue into training arrays; ``models.space`` makes a head a catalogue's matching
space (``rapsim train --use``). The augmentation study is ``bench.heads``.
"""

from __future__ import annotations

from .checkpoint import FORMAT_VERSION, encoder_id, load_head, save_head
from .errors import HeadError
from .heads import (
    KINDS,
    LOSSES,
    ClassifierHead,
    Head,
    HeadConfig,
    SiameseHead,
    apply_head,
    build_head,
    contrastive_loss,
    predict_proba,
    supcon_loss,
    triplet_loss,
)
from .train import EpochLoss, PKSampler, TrainResult, split_by_group, train_head

__all__ = [
    "FORMAT_VERSION",
    "KINDS",
    "LOSSES",
    "ClassifierHead",
    "EpochLoss",
    "Head",
    "HeadConfig",
    "HeadError",
    "PKSampler",
    "SiameseHead",
    "TrainResult",
    "apply_head",
    "build_head",
    "contrastive_loss",
    "encoder_id",
    "load_head",
    "predict_proba",
    "save_head",
    "split_by_group",
    "supcon_loss",
    "train_head",
    "triplet_loss",
]
