"""The rapsim command: output formats, exit codes, one-line errors for every bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rapsim.cli import main
from tests.conftest import LINES, speak
from tests.test_preprocess import drum_loop

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory, speech_wav) -> dict[str, Path]:
    """The issue's list of bad input, one file each (all named like voice notes)."""
    d = tmp_path_factory.mktemp("bad")
    sr = 16000
    rng = np.random.default_rng(0)
    speech, _ = sf.read(speech_wav, dtype="float32")
    files = {}
    (d / "empty.ogg").write_bytes(b"")
    files["empty"] = d / "empty.ogg"
    (d / "text.ogg").write_text("just some text, not audio\n" * 50)
    files["text"] = d / "text.ogg"
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(d / "image.png")
    (d / "image.ogg").write_bytes((d / "image.png").read_bytes())
    files["image"] = d / "image.ogg"
    sf.write(d / "short.wav", speech[: sr // 2], 22050)
    files["half-second"] = d / "short.wav"
    sf.write(d / "silence.wav", np.zeros(30 * sr, np.float32), sr)
    files["silence"] = d / "silence.wav"
    sf.write(d / "beat.wav", drum_loop(30.0), sr)
    files["beat-only"] = d / "beat.wav"
    sf.write(d / "noise.wav", (0.3 * rng.standard_normal(30 * sr)).astype(np.float32), sr)
    files["white-noise"] = d / "noise.wav"
    nan = np.full(5 * sr, np.nan, np.float32)
    sf.write(d / "nan.wav", nan, sr, subtype="FLOAT")
    files["nan"] = d / "nan.wav"
    return files


def test_analyze_json_mixes_results_and_errors(catalog_dir, speech_wav, bad_inputs, capsys) -> None:
    files = [str(speech_wav), *map(str, bad_inputs.values())]
    code = main(["analyze", "--json", "--catalog", str(catalog_dir), *files])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [x["file"] for x in lines] == files
    assert lines[0]["matches"] and 0 <= lines[0]["matches"][0]["score"] <= 100
    assert set(lines[0]) == {"file", "matches", "style", "rhythm", "warnings"}
    for doc, name in zip(lines[1:], bad_inputs, strict=True):
        assert "error" in doc and "\n" not in doc["error"] and "Traceback" not in doc["error"], name


def test_human_output_and_image(catalog_dir, speech_wav, tmp_path, capsys) -> None:
    png = tmp_path / "out.png"
    assert (
        main(
            [
                "analyze",
                "--catalog",
                str(catalog_dir),
                "--top-k",
                "2",
                "--image",
                str(png),
                str(speech_wav),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "1. " in out and "2. " in out and "3. " not in out
    assert "syll/s" in out and png.read_bytes().startswith(b"\x89PNG")


def test_clipped_audio_is_analysed_with_a_note(catalog_dir, speech_wav, tmp_path, capsys) -> None:
    speech, sr = sf.read(speech_wav, dtype="float32")
    loud = np.clip(speech * 30, -1, 1)
    sf.write(tmp_path / "clipped.wav", loud, sr)
    assert (
        main(["analyze", "--json", "--catalog", str(catalog_dir), str(tmp_path / "clipped.wav")])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["matches"] and any("clipped" in w for w in doc["warnings"])


def test_eight_channel_96k_is_analysed(catalog_dir, speech_wav, tmp_path, capsys) -> None:
    import soxr

    speech, sr = sf.read(speech_wav, dtype="float32")
    up = soxr.resample(speech, sr, 96000)
    sf.write(tmp_path / "multi.wav", np.tile(up[:, None] * 0.5, (1, 8)), 96000)
    assert (
        main(["analyze", "--json", "--catalog", str(catalog_dir), str(tmp_path / "multi.wav")]) == 0
    )
    assert json.loads(capsys.readouterr().out)["matches"]


def test_artists(catalog_dir, capsys) -> None:
    assert main(["artists", "--catalog", str(catalog_dir)]) == 0
    out = capsys.readouterr().out
    assert "Alpha" in out and "3 clips" in out and "3 artists" in out


def test_compare(speech_wav, catalog_dir, clips_dir, tmp_path, capsys) -> None:
    png = tmp_path / "cmp.png"
    code = main(
        [
            "compare",
            "--catalog",
            str(catalog_dir),
            "--image",
            str(png),
            str(clips_dir / "Alpha" / "0.wav"),
            str(clips_dir / "Alpha" / "1.wav"),
        ]
    )
    assert code == 0 and "/100 alike" in capsys.readouterr().out and png.stat().st_size > 1000


def test_catalog_build_and_add(clips_dir, tmp_path, capsys) -> None:
    out = tmp_path / "cat"
    assert main(["catalog", "build", str(clips_dir), "--out", str(out), "--jobs", "2"]) == 0
    assert "3 artists, 9 clips" in capsys.readouterr().out
    embeddings = (out / "embeddings.npy").read_bytes()
    # built again: every file comes from the build cache, and the catalogue is the same
    assert main(["catalog", "build", str(clips_dir), "--out", str(out), "--jobs", "1"]) == 0
    assert "9 clips added (9 files from" in capsys.readouterr().out
    assert (out / "embeddings.npy").read_bytes() == embeddings
    new = speak(LINES[1], "en-us+f5", tmp_path / "new.wav")
    assert main(["catalog", "add", "--catalog", str(out), "--artist", "Golf", str(new)]) == 0
    assert main(["artists", "--catalog", str(out)]) == 0
    assert "Golf" in capsys.readouterr().out


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rapsim", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_unknown_catalogue_is_one_line_no_traceback(speech_wav) -> None:
    p = _run("analyze", "--catalog", "/nonexistent/catalog", str(speech_wav))
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "Traceback" not in p.stderr
    assert "no catalogue at /nonexistent/catalog" in p.stderr


def test_bad_file_in_a_subprocess(catalog_dir, bad_inputs) -> None:
    p = _run("analyze", "--catalog", str(catalog_dir), str(bad_inputs["text"]))
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "could not read this file as audio" in p.stderr


def test_demo_works_on_a_fresh_cache(tmp_path) -> None:
    """The README's first command: loads the shipped demo catalogue, analyses the note."""
    p = _run("demo", "--image", str(tmp_path / "demo.png"), env={"RAPSIM_CACHE": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    demo = json.loads((REPO / "inference" / "demo_data" / "artists.json").read_text())
    # the note is what a member sends: a voice that is not in the catalogue
    note = demo["sample_note"]
    assert not (tmp_path / "rapsim").exists()  # the shipped catalogue: nothing was built
    assert not note["in_catalogue"]
    assert note["voice"]["identity"] not in {a["identity"] for a in demo["artists"].values()}
    ranked = re.findall(r"^\s+\d\. (.+?)\s+(\d+\.\d)  \[demo voice\]", p.stdout, re.M)
    assert len(ranked) == 5 and ranked[0][0] in demo["artists"]
    scores = [float(v) for _, v in ranked]
    assert scores == sorted(scores, reverse=True)
    assert 0 < scores[1] < 100 and "themself" not in p.stdout  # graded, no identity claim
    assert (tmp_path / "demo.png").stat().st_size > 10_000


def test_top_k_out_of_range_is_a_usage_error(speech_wav, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["analyze", "--top-k", "0", str(speech_wav)])
    assert e.value.code == 2 and "between 1 and 50" in capsys.readouterr().err
