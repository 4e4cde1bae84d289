"""The analyser end to end on a small espeak-ng catalogue, and the catalogue on disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inference import (
    Analyzer,
    AnalyzerOptions,
    Catalog,
    CatalogError,
    NoVoiceError,
    add_clips,
)
from inference.build.augment import AUGMENT_SETS
from tests.conftest import LINES, VOICES, needs_ffmpeg, speak, to_opus


@pytest.fixture(scope="module")
def unseen_notes(tmp_path_factory) -> dict[str, Path]:
    """Each catalogue voice saying a line that is not in the catalogue, as ogg/opus."""
    d = tmp_path_factory.mktemp("notes")
    out = {}
    for artist, voice in VOICES.items():
        wav = speak(LINES[3] + " " + LINES[3], voice, d / f"{artist}.wav", speed=180)
        out[artist] = to_opus(wav, d / f"{artist}.ogg") if shutil.which("ffmpeg") else wav
    return out


def test_each_voice_finds_itself(analyzer: Analyzer, unseen_notes: dict[str, Path]) -> None:
    for artist, note in unseen_notes.items():
        r = analyzer.analyze(note, AnalyzerOptions(top_k=3, image=False))
        assert r.matches[0].artist == artist, (artist, r.matches)
        scores = [m.score for m in r.matches]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 100.0 for s in scores)
        assert r.matches[0].score > r.matches[-1].score


def test_result_contents(analyzer: Analyzer, unseen_notes: dict[str, Path]) -> None:
    r = analyzer.analyze(unseen_notes["Alpha"])
    assert r.embedding.dtype == np.float32 and abs(np.linalg.norm(r.embedding) - 1) < 1e-4
    assert r.image_png is not None and r.image_png.startswith(b"\x89PNG")
    assert len(r.image_png) < 500_000
    assert len(r.readings) >= 5 and all(isinstance(x, str) and x for x in r.readings)
    assert r.spectrogram.dtype == np.uint8
    assert {"decode", "prepare", "embed", "style", "match", "image"} <= set(r.timings_ms)
    doc = json.loads(json.dumps(r.to_json_dict()))
    assert doc["matches"][0]["artist"] == "Alpha" and "style" in doc


def test_same_input_same_answer(analyzer: Analyzer, unseen_notes: dict[str, Path]) -> None:
    a = analyzer.analyze(unseen_notes["Bravo"], AnalyzerOptions(image=False))
    b = analyzer.analyze(unseen_notes["Bravo"].read_bytes(), AnalyzerOptions(image=False))
    np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-5)
    assert [m.artist for m in a.matches] == [m.artist for m in b.matches]


def test_compare_same_voice_beats_different(
    analyzer: Analyzer, clips_dir: Path, unseen_notes: dict[str, Path]
) -> None:
    same = analyzer.compare(unseen_notes["Alpha"], clips_dir / "Alpha" / "0.wav", render=False)
    diff = analyzer.compare(unseen_notes["Alpha"], clips_dir / "Bravo" / "0.wav")
    assert same.score > diff.score
    assert same.similarity > diff.similarity
    assert diff.image_png is not None and diff.image_png.startswith(b"\x89PNG")


def test_no_voice_is_an_error(analyzer: Analyzer) -> None:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(16000 * 5, np.float32), 16000, format="WAV")
    with pytest.raises(NoVoiceError):
        analyzer.analyze(buf.getvalue())


def test_catalog_round_trip(catalog_dir: Path) -> None:
    cat = Catalog.load(catalog_dir)
    assert sorted(cat.artists) == sorted(VOICES)
    assert [i.clips for i in cat.artist_infos()] == [3, 3, 3]
    assert int(cat.original.sum()) == 9
    # every window also has its gallery augmentations, tagged, sharing its source
    assert cat.index is not None and cat.index.ntotal == len(cat.clips) > 9
    variants = {c.variant for c in cat.clips}
    assert "" in variants and {"pitch+1.5", "tempo0.85", "room", "phone", "opus"} <= variants
    assert cat.matching["augment"] == sorted(AUGMENT_SETS["channel"])  # the default set
    assert cat.matching["projection"] == "none"  # 3 artists: too few for LDA
    assert not any(i.demo for i in cat.artist_infos())
    style = cat.artist_style(0)
    assert 60 < style.pitch_median_hz < 400


def _copy(catalog_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "cat"
    shutil.copytree(catalog_dir, dst)
    return dst


def test_damaged_catalogue_is_refused(catalog_dir: Path, tmp_path: Path) -> None:
    cat = _copy(catalog_dir, tmp_path)
    emb = cat / "embeddings.npy"
    emb.write_bytes(emb.read_bytes()[:-16] + b"\0" * 16)
    with pytest.raises(CatalogError, match=r"embeddings.npy fails its checksum"):
        Catalog.load(cat)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda m: m.update(format_version=99), "format version 99"),
        (lambda m: m.pop("encoder"), "lacks 'encoder'"),
        (lambda m: m.update(format="other"), "not a rapsim catalogue"),
    ],
)
def test_bad_manifest(catalog_dir: Path, tmp_path: Path, edit, match: str) -> None:
    cat = _copy(catalog_dir, tmp_path)
    manifest = json.loads((cat / "manifest.json").read_text())
    edit(manifest)
    (cat / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CatalogError, match=match):
        Catalog.load(cat)


def test_missing_and_unknown_paths(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"not a folder"):
        Catalog.load(tmp_path / "nope")
    with pytest.raises(CatalogError, match=r"no manifest.json"):
        Catalog.load(tmp_path)


def test_encoder_mismatch(catalog_dir: Path, pipeline) -> None:
    cat = Catalog.load(catalog_dir)
    cat.encoder["version"] = "0.0-other"
    with pytest.raises(CatalogError, match=r"built with encoder resemblyzer 0.0-other"):
        Analyzer(cat, pipeline)


def test_add_clips_makes_a_new_artist(catalog_dir: Path, pipeline, tmp_path: Path) -> None:
    files = [
        speak(line + " " + line, "en-us+f4", tmp_path / f"d{i}.wav")
        for i, line in enumerate(LINES[:2])
    ]
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    cat, report = add_clips(Catalog.load(catalog_dir), pipeline, "Delta", [*files, bad])
    assert report.clips == 2 and len(report.skipped) == 1 and "bad.wav" in report.skipped[0]
    saved = Catalog.load(cat.save(tmp_path / "bigger"))
    assert "Delta" in saved.artists and int(saved.original.sum()) == 11
    assert saved.matching["augment"] == sorted(AUGMENT_SETS["channel"])  # same recipe
    delta = saved.artists.index("Delta")
    assert {c.variant for c in saved.clips if c.artist == delta} >= {"", "phone", "beat"}
    r = Analyzer(saved, pipeline).analyze(files[0], AnalyzerOptions(image=False))
    assert r.matches[0].artist == "Delta"


def test_build_options_are_checked_before_any_work(pipeline, tmp_path: Path, monkeypatch) -> None:
    from inference import build_catalog

    with pytest.raises(ValueError, match="unknown augmentation set 'studio'"):
        build_catalog(tmp_path / "nowhere", pipeline, augment="studio")
    monkeypatch.setattr("inference.build.builder.shutil.which", lambda name: None)
    with pytest.raises(CatalogError, match="needs ffmpeg"):
        build_catalog(tmp_path / "nowhere", pipeline)


@needs_ffmpeg
def test_long_catalogue_file_is_windowed(pipeline, tmp_path: Path) -> None:
    from inference import build_catalog

    root = tmp_path / "clips"
    (root / "Echo").mkdir(parents=True)
    (root / "Foxtrot").mkdir()
    long_line = " ".join(LINES * 3)  # ~70 s of speech: three 30 s windows
    speak(long_line, "en-us+m2", root / "Echo" / "album.wav", speed=150)
    speak(LINES[0], "en-us+f3", root / "Foxtrot" / "a.wav")
    cat, _ = build_catalog(root, pipeline)
    echo = [c for c in cat.clips if cat.artists[c.artist] == "Echo" and not c.variant]
    assert len(echo) >= 2 and sorted(c.start for c in echo)[1] == pytest.approx(30.0)
