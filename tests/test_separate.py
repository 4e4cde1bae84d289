"""The shipped voice separator: loading, errors, shapes, chunking, and what it hears.

Speech is espeak-ng's en-us+m7 (an identity training held out); beats are numpy beats.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from inference.audio.beats import make_beat, mix_at_snr
from inference.audio.separate import (
    FORMAT_VERSION,
    SHIPPED_DIR,
    Separation,
    Separator,
    SeparatorError,
)
from inference.errors import RapsimError
from tests.conftest import LINES, needs_espeak, speak

SR = 16_000


def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    ref, est = ref - ref.mean(), est - est.mean()
    target = (est @ ref) / (ref @ ref) * ref
    return float(10 * np.log10((target @ target) / ((est - target) @ (est - target))))


@pytest.fixture(scope="module")
def sep() -> Separator:
    s = Separator.load()
    s.warmup()
    return s


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """~10 s of espeak-ng speech at 16 kHz, peak 0.3."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng missing")
    path = speak(" ".join(LINES[:2]), "en-us+m7", tmp_path_factory.mktemp("sep") / "v.wav", 180)
    wav, sr = sf.read(path, dtype="float32")
    wav = soxr.resample(wav, sr, SR).astype(np.float32)
    return wav * np.float32(0.3 / np.max(np.abs(wav)))


def test_shipped_weights_load_and_are_small(sep: Separator) -> None:
    assert sep.config.version == FORMAT_VERSION
    assert sep.config.sr == SR
    assert (SHIPPED_DIR / "weights.npz").stat().st_size < 4_000_000
    with np.load(SHIPPED_DIR / "weights.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "sep"
    shutil.copytree(SHIPPED_DIR, folder)
    return folder


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SeparatorError, match="not installed"):
        Separator.load(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["config", "version", "weights", "shape"])
def test_damaged_folder_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    folder = _copy(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    if damage == "config":
        (folder / "config.json").write_text("{not json")
    elif damage == "version":
        (folder / "config.json").write_text(json.dumps(config | {"version": FORMAT_VERSION + 1}))
    elif damage == "weights":
        data = (folder / "weights.npz").read_bytes()
        (folder / "weights.npz").write_bytes(data[: len(data) // 3])
    else:  # a config whose net is wider than the weights
        (folder / "config.json").write_text(json.dumps(config | {"channels": 8}))
    with pytest.raises(RapsimError) as err:
        Separator.load(folder)
    assert isinstance(err.value, SeparatorError)
    assert str(folder) in str(err.value)


@pytest.mark.parametrize("seconds", [0.5, 70.0])
def test_shapes_dtypes_and_lengths(sep: Separator, seconds: float) -> None:
    rng = np.random.default_rng(1)
    wav = (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32)
    out = sep.separate(wav)
    assert isinstance(out, Separation)
    assert out.voice.shape == wav.shape and out.voice.dtype == np.float32
    assert out.accompaniment.dtype == np.float32
    np.testing.assert_allclose(out.voice + out.accompaniment, wav, atol=1e-6)
    assert out.activity.shape == (1 + wav.size // sep.config.hop,)
    assert out.activity.dtype == np.float32
    assert ((out.activity >= 0) & (out.activity <= 1)).all()
    assert out.voiced(0.5, step=1).shape == wav.shape
    assert out.voiced(0.5, step=160).shape == (int(np.ceil(wav.size / 160)),)


def test_tiny_input_and_bad_input(sep: Separator) -> None:
    assert sep.separate(np.zeros(10, np.float32)).voice.shape == (10,)
    with pytest.raises(ValueError):
        sep.separate(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError):
        sep.separate(np.full(1000, np.nan, np.float32))


def test_chunked_equals_one_pass(sep: Separator) -> None:
    rng = np.random.default_rng(2)
    beat = make_beat("trap", None, 70.0, 3).audio
    wav = (beat + 0.05 * rng.standard_normal(beat.size)).astype(np.float32)
    n_frames = 1 + wav.size // sep.config.hop
    one = Separator(sep.net, dataclasses.replace(sep.config, chunk_frames=n_frames + 1))
    small = Separator(sep.net, dataclasses.replace(sep.config, chunk_frames=700))
    a, b = one.separate(wav), small.separate(wav)
    assert small.config.chunk_frames < n_frames  # really chunked (7 chunks)
    np.testing.assert_allclose(a.activity, b.activity, atol=1e-4)
    np.testing.assert_allclose(a.voice, b.voice, atol=1e-4)


@needs_espeak
def test_voice_over_beat_is_isolated(sep: Separator, voice: np.ndarray) -> None:
    beat = make_beat("boombap", None, voice.size / SR + 1, 11).audio
    for snr in (0.0, 5.0):
        mix = mix_at_snr(voice, beat, snr)
        before, after = si_sdr(mix, voice), si_sdr(sep.separate(mix).voice, voice)
        assert after >= before + 3.0, (snr, before, after)


@pytest.mark.parametrize(
    "parts", [None, {"chords", "melody", "lead"}, {"drums", "808", "melody", "lead"}]
)
def test_beat_alone_has_no_voice(sep: Separator, parts: set[str] | None) -> None:
    for style, seed in (("trap", 21), ("lofi", 22)):
        beat = make_beat(style, None, 20.0, seed, parts=parts).audio
        assert sep.separate(beat).voiced_seconds(0.5) < 1.0, (style, parts)


@needs_espeak
def test_activity_covers_clean_speech(sep: Separator, voice: np.ndarray) -> None:
    out = sep.separate(voice)
    hop = sep.config.hop
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(voice, hop), 2 * hop)[::hop]
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)[: out.activity.size]
    voiced = db > db.max() - 30  # the sentence's loud frames: vowels and strong consonants
    silent = db < db.max() - 60  # digital silence before, between and after
    assert voiced.sum() > 200 and silent.sum() > 10  # the sentence and its silences
    assert np.mean(out.activity[voiced] >= 0.5) > 0.85
    assert np.mean(out.activity[silent] >= 0.5) < 0.2
    assert si_sdr(out.voice, voice) > 15.0  # a clean take is not damaged
