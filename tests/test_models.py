"""The training kit on generated embeddings: losses with known answers, the group split,
the P x K sampler, training (loss, held-out accuracy, determinism) and checkpoints.

The data: 6 "artists" as points in 64-d, 8 recordings each, 4 clips per recording. Every
recording adds a strong offset in a 4-d nuisance subspace shared by its clips (a
microphone, a room), so nearest-centroid on the raw vectors confuses artists on new
recordings; a head must learn to drop the recording and keep the artist.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from inference import RapsimError
from models import (
    EpochLoss,
    HeadConfig,
    HeadError,
    PKSampler,
    TrainResult,
    apply_head,
    build_head,
    contrastive_loss,
    load_head,
    predict_proba,
    save_head,
    split_by_group,
    supcon_loss,
    train_head,
    triplet_loss,
)

torch.set_num_threads(1)

DIM = 64
ARTISTS = ("Ace", "Bo", "Cee", "Dee", "Eve", "Fay")
ENCODER = {"name": "fake-encoder", "version": "1.0", "dim": DIM}
HELD_OUT_RECORDINGS = 2  # of each artist's 8: the accuracy test's unseen recordings
LOSS_KINDS = [
    ("siamese", "contrastive"),
    ("siamese", "triplet"),
    ("siamese", "supcon"),
    ("classifier", "softmax"),
]


def nuisance_data(seed: int = 0, recordings: int = 8, clips: int = 4, nuisance: float = 2.5):
    """(X float32 (n, 64) unit rows, artist ids, recording ids); recording r of artist a
    has id a * 100 + r."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(ARTISTS), DIM))
    basis = np.linalg.qr(rng.standard_normal((DIM, 4)))[0]
    x, labels, groups = [], [], []
    for a in range(len(ARTISTS)):
        for r in range(recordings):
            offset = basis @ rng.standard_normal(4) * nuisance * math.sqrt(DIM / 4)
            for _ in range(clips):
                x.append(centres[a] + offset + 0.3 * rng.standard_normal(DIM))
                labels.append(a)
                groups.append(a * 100 + r)
    xs = np.array(x, dtype=np.float32)
    return xs / np.linalg.norm(xs, axis=1, keepdims=True), np.array(labels), np.array(groups)


def config(kind: str = "siamese", loss: str = "", **kw) -> HeadConfig:
    base = dict(
        input_dim=DIM,
        kind=kind,
        loss=loss,
        batch_size=24,
        epochs=40,
        patience=8,
        learning_rate=3e-3,
        artists=ARTISTS,
    )
    base.update(kw)
    return HeadConfig(**base)  # type: ignore[arg-type]


def nearest_centroid_accuracy(train: np.ndarray, y_train, test: np.ndarray, y_test) -> float:
    centres = np.stack([train[y_train == a].mean(axis=0) for a in range(len(ARTISTS))])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return float(np.mean((test @ centres.T).argmax(axis=1) == y_test))


@pytest.fixture(scope="module")
def data():
    x, y, g = nuisance_data()
    seen = (g % 100) < 8 - HELD_OUT_RECORDINGS
    return x, y, g, seen


@pytest.fixture(scope="module")
def trained(data) -> dict[str, TrainResult]:
    x, y, g, seen = data
    return {
        loss: train_head(config(kind, loss), x[seen], y[seen], g[seen], encoder=ENCODER)
        for kind, loss in LOSS_KINDS
    }


# ---- losses on hand-made cases -----------------------------------------------------------
def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def test_contrastive_zero_when_positives_coincide_and_negatives_past_margin() -> None:
    z = t([[1, 0], [1, 0], [0, 1], [0, 1]])
    assert float(contrastive_loss(z, torch.tensor([0, 0, 1, 1]), margin=0.1)) == 0.0


def test_contrastive_value_by_hand() -> None:
    # a0-a1: d = 0.2 (positive); a0-b: d = 0.4 (past margin); a1-b: d = 0.04 (hinge 0.06)
    z = t([[1, 0], [0.8, 0.6], [0.6, 0.8]])
    loss = contrastive_loss(z, torch.tensor([0, 0, 1]), margin=0.1)
    assert float(loss) == pytest.approx(0.2 + (0.0 + 0.06) / 2, abs=1e-6)


def test_triplet_batch_hard_value_by_hand() -> None:
    # distances: a0a1 .4, a0b0 .2, a0b1 2, a1b0 1, a1b1 1.6, b0b1 1.8; margin .1
    # anchors: a0 .4-.2+.1=.3, a1 .4-1+.1<0 -> 0, b0 1.8-.2+.1=1.7, b1 1.8-1.6+.1=.3
    z = t([[1, 0], [0.6, 0.8], [0.8, -0.6], [-1, 0]])
    loss = triplet_loss(z, torch.tensor([0, 0, 1, 1]), margin=0.1)
    assert float(loss) == pytest.approx((0.3 + 0 + 1.7 + 0.3) / 4, abs=1e-6)


def test_supcon_value_by_hand() -> None:
    # anchors 0 and 1: positive at cos 1, the negative at cos 0; anchor 2 has no positive
    z = t([[1, 0], [1, 0], [0, 1]])
    loss = supcon_loss(z, torch.tensor([0, 0, 1]), temperature=0.5)
    assert float(loss) == pytest.approx(math.log(1 + math.exp(-2.0)), abs=1e-6)


@pytest.mark.parametrize("loss", ["contrastive", "triplet", "supcon"])
def test_losses_have_finite_gradients_with_coincident_points(loss: str) -> None:
    z = torch.nn.functional.normalize(torch.randn(8, 5, generator=torch.Generator().manual_seed(0)))
    z = torch.cat([z, z[:2]]).requires_grad_(True)  # exact duplicates: distance 0
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 0, 0])
    fn = {"contrastive": contrastive_loss, "triplet": triplet_loss, "supcon": supcon_loss}[loss]
    fn(z, labels, 0.1).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


# ---- split and sampler -------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_split_never_shares_a_recording(seed: int) -> None:
    rng = np.random.default_rng(seed)
    groups = rng.integers(0, 30, 300)
    labels = groups % 7  # recordings belong to one artist
    train, val = split_by_group(labels, groups, 0.2, seed)
    assert not set(groups[train]) & set(groups[val])
    assert sorted(np.concatenate([train, val])) == list(range(300))
    assert 0.1 < len(val) / 300 < 0.35


def test_training_keeps_recordings_apart(data, trained) -> None:
    _, _, g, seen = data
    for r in trained.values():
        groups = g[seen]
        assert not set(groups[r.train_index]) & set(groups[r.val_index])
        assert len(r.train_index) + len(r.val_index) == int(seen.sum())


def test_split_needs_enough_recordings() -> None:
    with pytest.raises(HeadError, match="recordings"):
        split_by_group(np.array([0, 0, 1, 1]), np.array([1, 1, 2, 2]), 0.2, 0)


def test_pk_batches_hold_positives_from_different_recordings() -> None:
    _, y, g = nuisance_data()
    sampler = PKSampler(y, g, batch_size=24, clips_per_artist=4, seed=3)
    batches = sampler.batches(1)
    assert len(batches) == math.ceil(len(y) / 24)
    for b in batches:
        artists, counts = np.unique(y[b], return_counts=True)
        assert len(b) == 24 and len(artists) == 6 and (counts == 4).all()
        for a in artists:  # 8 recordings each: 4 clips come from 4 recordings
            assert len(np.unique(g[b][y[b] == a])) == 4
    assert all((x == z).all() for x, z in zip(batches, sampler.batches(1), strict=True))


# ---- training ----------------------------------------------------------------------------
@pytest.mark.parametrize("loss", [loss for _, loss in LOSS_KINDS])
def test_training_lowers_the_loss(trained, loss: str) -> None:
    r = trained[loss]
    assert r.history[-1].train_loss < 0.7 * r.history[0].train_loss
    assert 1 <= r.best_epoch <= len(r.history) <= r.config.epochs
    assert r.best_val_loss == min(h.val_loss for h in r.history)
    assert not r.head.training and r.seconds > 0


def test_early_stopping_keeps_the_best_epoch(data, trained) -> None:
    x, y, g, seen = data
    r = trained["supcon"]
    assert r.stopped_early and r.best_epoch < len(r.history)
    gains = [
        h.epoch
        for i, h in enumerate(r.history)
        if h.val_loss < min([math.inf] + [p.val_loss for p in r.history[:i]]) - 1e-5
    ]
    assert len(r.history) == gains[-1] + r.config.patience
    # the same run cut at the best epoch ends with the weights early stopping kept
    seen_epochs: list[EpochLoss] = []
    short = train_head(
        config("siamese", "supcon", epochs=r.best_epoch),
        x[seen],
        y[seen],
        g[seen],
        encoder=ENCODER,
        progress=seen_epochs.append,
    )
    assert tuple(seen_epochs) == short.history == r.history[: r.best_epoch]
    for k, v in r.head.state_dict().items():
        assert torch.equal(v, short.head.state_dict()[k]), k


@pytest.mark.parametrize("loss", [loss for _, loss in LOSS_KINDS])
def test_head_beats_raw_embeddings_on_new_recordings(data, trained, loss: str) -> None:
    x, y, _, seen = data
    raw = nearest_centroid_accuracy(x[seen], y[seen], x[~seen], y[~seen])
    head = trained[loss].head
    learned = nearest_centroid_accuracy(
        apply_head(head, x[seen]), y[seen], apply_head(head, x[~seen]), y[~seen]
    )
    assert raw < 0.7  # the nuisance does hurt the raw space
    assert learned >= raw + 0.25 and learned >= 0.85


def test_same_seed_same_head_other_seed_other_head(data) -> None:
    x, y, g, _ = data
    cfg = config(loss="supcon", epochs=3)
    rng_before = torch.random.get_rng_state()
    a = train_head(cfg, x, y, g, encoder=ENCODER)
    assert torch.equal(rng_before, torch.random.get_rng_state())  # caller's RNG untouched
    torch.manual_seed(12345)  # the config's seed decides, not the caller's RNG state
    b = train_head(cfg, x, y, g, encoder=ENCODER)
    c = train_head(config(loss="supcon", epochs=3, seed=1), x, y, g, encoder=ENCODER)
    sa, sb, sc = (r.head.state_dict() for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    np.testing.assert_array_equal(apply_head(a.head, x), apply_head(b.head, x))
    assert a.history == b.history


def test_apply_head_output_and_single_matches_batch(trained, data) -> None:
    x = data[0][:10]
    head = trained["contrastive"].head
    out = apply_head(head, x)
    assert out.dtype == np.float32 and out.shape == (10, 128)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(apply_head(head, x[3]), out[3], atol=1e-6)
    assert apply_head(head, x[:0]).shape == (0, 128)
    with pytest.raises(HeadError, match="64-d"):
        apply_head(head, np.zeros((2, 32), np.float32))


def test_classifier_probabilities(trained, data) -> None:
    x, y, _, seen = data
    proba = predict_proba(trained["softmax"].head, x[~seen])
    assert proba.shape == (int((~seen).sum()), len(ARTISTS)) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert np.mean(proba.argmax(axis=1) == y[~seen]) > 0.8
    with pytest.raises(HeadError, match="siamese"):
        predict_proba(trained["supcon"].head, x[:2])


def test_train_rejects_bad_inputs(data) -> None:
    x, y, g, _ = data
    with pytest.raises(HeadError, match="64-d"):
        train_head(config(), x[:, :32], y, g, encoder=ENCODER)
    with pytest.raises(HeadError, match="one artist id"):
        train_head(config(), x, y[:-1], g, encoder=ENCODER)
    with pytest.raises(HeadError, match="past the config"):
        train_head(config(artists=ARTISTS[:3]), x, y, g, encoder=ENCODER)
    with pytest.raises(HeadError, match="name, version and dim"):
        train_head(config(), x, y, g, encoder={"name": "x"})


# ---- config ------------------------------------------------------------------------------
def test_config_defaults_and_round_trip() -> None:
    siamese = HeadConfig(input_dim=DIM)
    assert (siamese.loss, siamese.margin, siamese.hidden_dim, siamese.output_dim) == (
        "contrastive",
        0.1,
        256,
        128,
    )
    clf = HeadConfig(input_dim=DIM, kind="classifier", artists=["A", "B"])  # type: ignore[arg-type]
    assert clf.loss == "softmax" and clf.artists == ("A", "B")
    assert HeadConfig.from_dict(clf.to_dict()) == clf


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"kind": "gan"}, "kind"),
        ({"loss": "softmax"}, "does not fit a siamese"),
        ({"kind": "classifier", "loss": "triplet", "artists": ("a", "b")}, "does not fit"),
        ({"kind": "classifier"}, "at least two artists"),
        ({"input_dim": 0}, "input_dim"),
        ({"hidden_dim": 2.5}, "hidden_dim"),
        ({"dropout": 1.0}, "dropout"),
        ({"margin": 0.0}, "margin"),
        ({"margin": 3.0}, "margin"),
        ({"temperature": -1.0}, "temperature"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"epochs": True}, "epochs"),
        ({"clips_per_artist": 1}, "clips_per_artist"),
        ({"batch_size": 6}, "batch_size"),
        ({"val_fraction": 0.9}, "val_fraction"),
        ({"artists": ("a", "a")}, "twice"),
    ],
)
def test_config_validation(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HeadConfig(**{"input_dim": DIM, **kw})


def test_config_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown head config keys: colour"):
        HeadConfig.from_dict({"input_dim": DIM, "colour": "red"})


# ---- checkpoints -------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["supcon", "softmax"])
def test_checkpoint_round_trip(trained, data, tmp_path: Path, loss: str) -> None:
    r = trained[loss]
    path = save_head(tmp_path / "heads" / "h.pt", r.head, r.config, r.encoder, r.history)
    assert [p.name for p in path.parent.iterdir()] == ["h.pt"]  # no temp file left
    head, cfg, meta = load_head(path, expect_encoder={**ENCODER, "extra": "ignored"})
    assert cfg == r.config and meta["encoder"] == ENCODER and meta["history"] == r.history
    assert isinstance(meta["history"][0], EpochLoss) and not head.training
    x = data[0]
    np.testing.assert_array_equal(apply_head(head, x), apply_head(r.head, x))
    if loss == "softmax":
        np.testing.assert_array_equal(predict_proba(head, x), predict_proba(r.head, x))


@pytest.mark.parametrize(
    ("other", "shown"),
    [({"name": "hubert"}, "hubert"), ({"version": "2.0"}, "2.0"), ({"dim": 768}, "768-d")],
)
def test_checkpoint_refuses_another_encoder(tmp_path: Path, other: dict, shown: str) -> None:
    cfg = config()
    path = save_head(tmp_path / "h.pt", build_head(cfg), cfg, ENCODER)
    with pytest.raises(HeadError, match=f"trained on encoder fake-encoder 1.0 .*not .*{shown}"):
        load_head(path, expect_encoder={**ENCODER, **other})
    assert issubclass(HeadError, RapsimError)


def test_checkpoint_damaged_or_foreign_files(tmp_path: Path) -> None:
    cfg = config()
    good = save_head(tmp_path / "good.pt", build_head(cfg), cfg, ENCODER).read_bytes()
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    cases = {
        "truncated.pt": good[: len(good) // 2],
        "empty.pt": b"",
        "text.pt": b"not a checkpoint\n",
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
    for name in [*cases, "foreign.pt", "missing.pt"]:
        with pytest.raises(HeadError) as err:
            load_head(tmp_path / name)
        assert "\n" not in str(err.value), name


def test_checkpoint_with_mismatched_weights_is_damaged(tmp_path: Path) -> None:
    small, big = config(hidden_dim=32), config()
    path = save_head(tmp_path / "h.pt", build_head(small), small, ENCODER)
    payload = torch.load(path, weights_only=True)
    payload["config"] = big.to_dict()  # config no longer fits the tensors
    torch.save(payload, path)
    with pytest.raises(HeadError, match="damaged"):
        load_head(path)


def test_save_refuses_encoder_of_other_width(tmp_path: Path) -> None:
    cfg = config()
    with pytest.raises(HeadError, match="64-d"):
        save_head(tmp_path / "h.pt", build_head(cfg), cfg, {**ENCODER, "dim": 256})
