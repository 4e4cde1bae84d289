"""The optional Demucs separator: a tiny HTDemucs (the real architecture, random weights)
exported, loaded and run as the pipeline would; the wrapper's alignment and level checked
with a stand-in model whose stems are known; every broken folder a one-line error."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("demucs", reason="the demucs extra is not installed")

from inference.audio import demucs_sep
from inference.audio.demucs_sep import (
    HOP,
    DemucsSeparator,
    export,
    load_separator,
    voice_activity,
)
from inference.audio.separate import Separation, SeparatorError
from inference.constants import SAMPLE_RATE

SOURCES = ["drums", "bass", "other", "vocals"]
# few channels, one transformer layer, 2 s segments; depth and STFT as the real model's
TINY = {"channels": 8, "depth": 4, "t_layers": 1, "t_heads": 2, "segment": 2}


def tiny_model(seed: int) -> Any:  # an HTDemucs
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(seed)
    return HTDemucs(SOURCES, **TINY).eval()


def tone_and_noise(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(seed).normal(0, 0.02, t.size)
    return (0.3 * np.sin(2 * np.pi * 220 * t) + noise).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, nn.Module]:
    folder = tmp_path_factory.mktemp("demucs") / "tiny"
    model = tiny_model(0)
    export(model, folder, origin="tiny test model")
    return folder, model


@pytest.fixture(scope="module")
def separated(exported: tuple[Path, nn.Module]) -> tuple[DemucsSeparator, Separation]:
    sep = load_separator(f"demucs:{exported[0]}")
    assert isinstance(sep, DemucsSeparator)
    torch.set_num_threads(1)
    return sep, sep.separate(tone_and_noise())


def test_folder_is_config_and_safetensors(exported: tuple[Path, nn.Module]) -> None:
    folder, _ = exported
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "weights.safetensors"]
    raw = json.loads((folder / "config.json").read_text())
    assert raw["class"] == "HTDemucs" and raw["kwargs"]["sources"] == SOURCES
    assert raw["kwargs"]["channels"] == 8 and raw["origin"] == "tiny test model"


def test_separation_shapes_and_alignment(separated: tuple[DemucsSeparator, Separation]) -> None:
    _, out = separated
    n = 3 * SAMPLE_RATE
    assert out.voice.shape == out.accompaniment.shape == (n,)
    assert out.voice.dtype == out.accompaniment.dtype == np.float32
    assert np.isfinite(out.voice).all() and np.isfinite(out.accompaniment).all()
    assert out.hop == HOP and out.sr == SAMPLE_RATE
    assert out.activity.shape == (1 + n // HOP,)
    assert ((out.activity >= 0) & (out.activity <= 1)).all()
    assert out.voiced(0.5, 160).shape == (math.ceil(n / 160),)
    assert out.voiced(0.5, 1).shape == (n,)
    # random weights: the stems are not the input's parts (voice + accompaniment is not
    # the input, see the module doc), but they are audio of a sane level, not silence
    assert 0 < np.sqrt(np.mean(out.voice**2)) < 10


def test_loaded_model_is_the_exported_one(
    exported: tuple[Path, nn.Module], separated: tuple[DemucsSeparator, Separation]
) -> None:
    _, original = exported
    _, out = separated
    again = DemucsSeparator(original).separate(tone_and_noise())
    np.testing.assert_allclose(again.voice, out.voice, atol=1e-6)
    np.testing.assert_allclose(again.accompaniment, out.accompaniment, atol=1e-6)


def test_digest_follows_the_weights(
    exported: tuple[Path, nn.Module], tmp_path: Path, separated: tuple[DemucsSeparator, Separation]
) -> None:
    folder, _ = exported
    sep, _ = separated
    assert len(sep.digest) == 16
    assert DemucsSeparator.load(folder).digest == sep.digest
    export(tiny_model(1), tmp_path / "other")
    assert DemucsSeparator.load(tmp_path / "other").digest != sep.digest


class KnownStems(nn.Module):
    """Stand-in for a demucs model: stem s is ``share[s]`` times the mixture."""

    share: torch.Tensor

    def __init__(self, share: list[float]) -> None:
        super().__init__()
        self.sources, self.samplerate, self.audio_channels, self.segment = SOURCES, 44100, 2, 2
        self.register_buffer("share", torch.tensor(share).reshape(1, -1, 1, 1))

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return mix[:, None] * self.share


def test_wrapper_keeps_time_and_level() -> None:
    """Resampling, scaling and segmenting around the model move nothing: with stems that
    are shares of the mixture, voice and accompaniment are those shares of the input."""
    t = np.arange(int(2.5 * SAMPLE_RATE)) / SAMPLE_RATE
    # tones below the resamplers' pass band (white noise would lose its top 0.7 kHz)
    x = sum(a * np.sin(2 * np.pi * f * t + a) for a, f in [(0.3, 220), (0.1, 1370), (0.05, 5100)])
    x = (x * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)  # a 3 Hz envelope
    out = DemucsSeparator(KnownStems([0.1, 0.2, 0.3, 0.4])).separate(x)
    inner = slice(200, -200)  # the resampler's edges
    np.testing.assert_allclose(out.voice[inner], 0.4 * x[inner], atol=2e-3)
    np.testing.assert_allclose(out.accompaniment[inner], 0.6 * x[inner], atol=2e-3)
    np.testing.assert_allclose((out.voice + out.accompaniment)[inner], x[inner], atol=2e-3)


def test_activity_rule() -> None:
    mix = tone_and_noise(2.0)
    half = mix.size // 2
    voice = mix.copy()
    voice[half:] *= 0.05  # -26 dB under the mixture in the second half
    p = voice_activity(voice, mix)
    assert p.shape == (1 + mix.size // HOP,)
    assert (p[: half // HOP - 2] > 0.9).all() and (p[half // HOP + 2 :] < 0.05).all()
    assert voice_activity(0.5 * mix, mix)[2:-2] == pytest.approx(0.5, abs=0.02)
    silence = np.zeros(SAMPLE_RATE, dtype=np.float32)
    assert not voice_activity(silence, silence).any()
    quiet = mix.copy()
    quiet[:half] *= 1e-3  # 60 dB under the rest: no voice, whatever the stem says
    assert not voice_activity(quiet, quiet)[: half // HOP - 2].any()


def test_builtin_spec() -> None:
    from inference.audio.separate import Separator

    assert isinstance(load_separator(""), Separator)
    assert isinstance(load_separator("builtin"), Separator)


def one_line_error(spec: str, match: str) -> None:
    with pytest.raises(SeparatorError, match=match) as info:
        load_separator(spec)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("spec", ["demucs", "demucs:", "spleeter:/x", "builtin:/x"])
def test_bad_spec(spec: str) -> None:
    one_line_error(spec, "unknown separator")


def test_missing_folder(tmp_path: Path) -> None:
    one_line_error(f"demucs:{tmp_path / 'nowhere'}", "does not exist")


def copy_of(exported: tuple[Path, nn.Module], tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(exported[0], folder)
    return folder


def test_missing_or_damaged_weights(exported: tuple[Path, nn.Module], tmp_path: Path) -> None:
    folder = copy_of(exported, tmp_path)
    weights = folder / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the tensors: safetensors can't see it
    weights.write_bytes(bytes(data))
    one_line_error(f"demucs:{folder}", "damaged")
    weights.write_bytes(bytes(data[: len(data) // 3]))
    one_line_error(f"demucs:{folder}", "damaged")
    weights.unlink()
    one_line_error(f"demucs:{folder}", "weights are missing")


def test_damaged_safetensors_with_matching_hash(
    exported: tuple[Path, nn.Module], tmp_path: Path
) -> None:
    """A file that matches its config's hash but is no safetensors: the parser says so."""
    folder = copy_of(exported, tmp_path)
    junk = b"not a safetensors file"
    (folder / "weights.safetensors").write_bytes(junk)
    rewrite_config(folder, weights_sha256=hashlib.sha256(junk).hexdigest())
    one_line_error(f"demucs:{folder}", "damaged: Error while deserializing")


def rewrite_config(folder: Path, **changes: object) -> None:
    raw = json.loads((folder / "config.json").read_text())
    kwargs = changes.pop("kwargs", {})
    raw.update(changes)
    raw["kwargs"].update(kwargs)
    (folder / "config.json").write_text(json.dumps(raw))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"kwargs": {"channels": 16}}, "do not fit its config"),
        ({"kwargs": {"no_such_setting": 1}}, "takes no"),
        ({"kwargs": {"sources": ["drums", "bass"]}}, "do not fit its config"),
        ({"class": "Pickle"}, "is damaged"),
        ({"version": 99}, "format version 99"),
        ({"format": "other"}, "is damaged"),
        ({"weights_sha256": None}, "is damaged"),
    ],
)
def test_wrong_config(
    exported: tuple[Path, nn.Module], tmp_path: Path, changes: dict, match: str
) -> None:
    folder = copy_of(exported, tmp_path)
    rewrite_config(folder, **changes)
    one_line_error(f"demucs:{folder}", match)


def test_garbled_or_missing_config(exported: tuple[Path, nn.Module], tmp_path: Path) -> None:
    folder = copy_of(exported, tmp_path)
    (folder / "config.json").write_text("{not json")
    one_line_error(f"demucs:{folder}", "is damaged")
    (folder / "config.json").unlink()
    one_line_error(f"demucs:{folder}", "config is missing")


def test_no_vocals_stem(tmp_path: Path) -> None:
    from demucs.htdemucs import HTDemucs

    export(HTDemucs(["drums", "bass"], **TINY), tmp_path / "novox")
    one_line_error(f"demucs:{tmp_path / 'novox'}", "no 'vocals' stem")


def test_demucs_not_installed(exported: tuple[Path, nn.Module], monkeypatch) -> None:
    for name in ("demucs", "demucs.hdemucs", "demucs.htdemucs"):
        monkeypatch.setitem(sys.modules, name, None)  # what an uninstalled package gives
    one_line_error(f"demucs:{exported[0]}", r"install rapsim\[demucs\]")


def test_rejects_bad_audio(separated: tuple[DemucsSeparator, Separation]) -> None:
    sep, _ = separated
    for bad in (np.zeros((2, 100), np.float32), np.zeros(0, np.float32),
                np.array([0.0, np.nan], np.float32)):  # fmt: skip
        with pytest.raises(ValueError):
            sep.separate(bad)


def test_export_command_keeps_the_vocals_model_of_a_bag(tmp_path: Path, monkeypatch) -> None:
    """``export`` with demucs' own loader stubbed (no internet here): of a bag, the model
    weighted on vocals is written, with the bag's segment, and the folder loads."""
    import demucs.pretrained
    from demucs.apply import BagOfModels

    vocal_model = tiny_model(2)
    bag = BagOfModels(
        [tiny_model(3), vocal_model],
        [[1, 1, 1, 0], [0, 0, 0, 1]],
        segment=cast(Any, Fraction(3, 2)),
    )
    monkeypatch.setattr(demucs.pretrained, "get_model", lambda name: bag)
    assert demucs_sep.main(["export", str(tmp_path / "bag"), "--name", "stub_ft"]) == 0
    config = json.loads((tmp_path / "bag" / "config.json").read_text())
    assert config["kwargs"]["segment"] == {"fraction": [3, 2]}
    assert config["origin"].startswith("stub_ft (demucs")
    loaded = DemucsSeparator.load(tmp_path / "bag")
    expected = export(vocal_model, tmp_path / "vocal")
    assert loaded.digest == expected.weights_sha256[:16]
    assert loaded.model.segment == Fraction(3, 2)  # as HTDemucs' own Fraction segments
