"""HubertEncoder on tiny randomly initialised HuBERT checkpoints written to tmp folders.

Every embedding comes from running the real model; references are computed with
transformers directly (a fresh, untruncated model), never with the encoder's own code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# after the importorskips: transformers is an optional extra ("hubert")
from inference.errors import EncoderError  # noqa: E402
from inference.voice.base import Encoder  # noqa: E402
from inference.voice.encoders import load_encoder  # noqa: E402
from inference.voice.hubert import HubertEncoder  # noqa: E402

SR = 16_000
N_LAYERS = 4  # default layer 2; layers 0..2 run a truncated stack, so truncation is tested


def tiny_config() -> transformers.HubertConfig:
    """A HuBERT small enough for CPU tests: 80-sample (5 ms) hop, 85-sample receptive field."""
    return transformers.HubertConfig(
        hidden_size=32,
        num_hidden_layers=N_LAYERS,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16, 16),
        conv_kernel=(10, 4, 4),
        conv_stride=(5, 4, 4),
        num_feat_extract_layers=3,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )


def save_tiny(folder: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    transformers.HubertModel(tiny_config()).save_pretrained(folder)
    return folder


def noise(seconds: float, seed: int = 0, scale: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (scale * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def frame_states(folder: Path, values: np.ndarray, layer: int) -> np.ndarray:
    """hidden_states[layer] of a fresh full model: float64 (frames, dim)."""
    model = transformers.HubertModel.from_pretrained(folder).eval()
    with torch.inference_mode():
        out = model(torch.from_numpy(values)[None], output_hidden_states=True)
    return out.hidden_states[layer][0].double().numpy()


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(unit(a.astype(np.float64)), unit(b.astype(np.float64))))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("hubert") / "tiny-hubert")


@pytest.fixture(scope="module")
def encoder(folder: Path) -> HubertEncoder:
    enc = load_encoder(f"hubert:{folder}")  # the real CLI/bot path
    assert isinstance(enc, HubertEncoder)
    return enc


def test_loads_through_load_encoder(encoder: HubertEncoder) -> None:
    assert isinstance(encoder, Encoder)
    assert encoder.name == "hubert"
    assert encoder.dim == tiny_config().hidden_size
    assert encoder.layer == N_LAYERS // 2
    assert encoder.version.startswith(f"tiny-hubert|layer{N_LAYERS // 2}|")
    encoder.warmup()


def test_embedding_is_unit_float32(encoder: HubertEncoder) -> None:
    emb = encoder.embed(noise(2.0))
    assert emb.dtype == np.float32
    assert emb.shape == (encoder.dim,)
    assert np.all(np.isfinite(emb))
    assert np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)


def test_deterministic(encoder: HubertEncoder) -> None:
    wav = noise(1.5, seed=3)
    np.testing.assert_array_equal(encoder.embed(wav), encoder.embed(wav.copy()))


@pytest.mark.parametrize("layer", [0, None, N_LAYERS])
def test_matches_transformers_directly(folder: Path, layer: int | None) -> None:
    enc = HubertEncoder(str(folder), layer=layer)
    wav = noise(1.0, seed=5)
    # group-norm config, no extractor: the raw waveform is the model input (as in fairseq)
    expected = unit(frame_states(folder, wav, enc.layer).mean(axis=0))
    # float32 forward passes of the same weights on the same input: only summation order
    # differs (float64 pooling here), so agreement is at float32 rounding level
    np.testing.assert_allclose(enc.embed(wav), expected, atol=1e-5)


def test_chunks_pool_by_frame_count(folder: Path, encoder: HubertEncoder) -> None:
    chunked = HubertEncoder(str(folder), max_seconds=1.0)
    wav = np.concatenate([noise(1.0, seed=1), tone(1.0), noise(1.0, seed=2, scale=0.3)])
    states = [frame_states(folder, part, chunked.layer) for part in np.split(wav, 3)]
    expected = unit(np.concatenate(states).mean(axis=0))  # frame-weighted mean of chunk means
    np.testing.assert_allclose(chunked.embed(wav), expected, atol=1e-5)
    # Chunking is not exact for a transformer (no attention across chunk borders), but
    # pooling over ~600 frames leaves it close; a random tiny model is no speaker model,
    # so only a loose bound is meaningful here.
    assert cosine(chunked.embed(wav), encoder.embed(wav)) > 0.95  # measured 0.983


def test_uneven_length_is_split_without_tiny_tail(folder: Path) -> None:
    chunked = HubertEncoder(str(folder), max_seconds=1.0)
    emb = chunked.embed(noise(2.0005, seed=4))  # 3 near-equal chunks, not 1 s + 1 s + 8 samples
    assert emb.shape == (chunked.dim,)
    assert np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)


def test_different_inputs_differ(encoder: HubertEncoder) -> None:
    a = encoder.embed(noise(2.0, seed=1))
    b = encoder.embed(tone(2.0))
    assert not np.allclose(a, b, atol=1e-3)
    assert cosine(a, b) < 0.95  # measured 0.87


def test_group_norm_model_ignores_gain(encoder: HubertEncoder) -> None:
    # Why skipping input normalisation is harmless for base-style (group norm) models.
    wav = noise(1.0, seed=6)
    np.testing.assert_allclose(encoder.embed(3.0 * wav), encoder.embed(wav), atol=1e-3)


def test_version_tracks_layer_and_weights(
    folder: Path, encoder: HubertEncoder, tmp_path: Path
) -> None:
    assert HubertEncoder(str(folder), layer=0).version != encoder.version
    assert HubertEncoder(str(folder)).version == encoder.version
    moved = tmp_path / "elsewhere" / folder.name
    shutil.copytree(folder, moved)
    assert HubertEncoder(str(moved)).version == encoder.version  # location does not matter
    other = save_tiny(tmp_path / folder.name, seed=1)  # same config and name, other weights
    assert HubertEncoder(str(other)).version != encoder.version


def test_feature_extractor_is_used(tmp_path: Path, encoder: HubertEncoder) -> None:
    folder = save_tiny(tmp_path / "with-extractor")
    extractor = transformers.Wav2Vec2FeatureExtractor(
        do_normalize=True, return_attention_mask=False
    )
    extractor.save_pretrained(folder)
    enc = load_encoder(f"hubert:{folder}")
    wav = noise(1.0, seed=7) + 0.2  # a DC offset the extractor removes
    values = extractor(wav, sampling_rate=SR, return_tensors="np")["input_values"][0]
    expected = unit(frame_states(folder, values.astype(np.float32), enc.layer).mean(axis=0))
    np.testing.assert_allclose(enc.embed(wav), expected, atol=1e-5)
    # same weights as `encoder`, but scaled input: another embedding space, another version
    assert enc.version.split("|")[-1] != encoder.version.split("|")[-1]


def test_missing_folder_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match=r"no HuBERT folder at .*--encoder hubert:"):
        load_encoder(f"hubert:{tmp_path / 'nope'}")


def test_folder_without_weights_is_a_readable_error(tmp_path: Path) -> None:
    tiny_config().save_pretrained(tmp_path)
    with pytest.raises(EncoderError, match=r"cannot load HuBERT .*--encoder hubert:"):
        HubertEncoder(str(tmp_path))


def test_checkpoint_missing_weights_is_an_error(tmp_path: Path) -> None:
    # transformers would silently fill missing weights with random ones
    folder = save_tiny(tmp_path / "short")
    config = json.loads((folder / "config.json").read_text())
    config["num_hidden_layers"] = N_LAYERS + 2
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(EncoderError, match="not a HuBERT checkpoint"):
        HubertEncoder(str(folder))


def test_bad_options_are_errors(folder: Path, encoder: HubertEncoder) -> None:
    with pytest.raises(EncoderError, match="layer"):
        HubertEncoder(str(folder), layer=N_LAYERS + 1)
    with pytest.raises(EncoderError, match="max_seconds"):
        HubertEncoder(str(folder), max_seconds=0.1)
    with pytest.raises(ValueError):
        encoder.embed(np.zeros(80, dtype=np.float32))  # shorter than one frame (85 samples)
    with pytest.raises(ValueError):
        encoder.embed(np.zeros((2, SR), dtype=np.float32))
