"""Shared fixtures: speech from espeak-ng, a real Resemblyzer encoder, a small catalogue.

Everything is generated here (no downloads); the session-scoped fixtures are made once.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

LINES = [
    "Woke up early with the sunrise on my window pane, wrote a hundred lines before the train.",
    "Streetlights flicker while the city hums a tune, counting syllables beneath a silver moon.",
    "Bass drum knocking like a neighbor at the door, snare cracks back and I am asking for more.",
    "Notebook pages stacked as high as my ambition, every verse I write is a new edition.",
]
# espeak-ng variants differ in formants and pitch: distinct "artists" for tests
VOICES = {"Alpha": "en-us+m1", "Bravo": "en-us+f2", "Charlie": "en-us+m7"}

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg missing")


def speak(text: str, voice: str, out: Path, speed: int = 165) -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
    return out


def to_opus(src: Path, out: Path, bitrate: str = "32k") -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(src),
            "-ar",
            "48000",
            "-ac",
            "1",
            "-c:a",
            "libopus",
            "-b:a",
            bitrate,
            str(out),
        ],
        check=True,
    )
    return out


def read16k(path: Path) -> np.ndarray:
    from inference import decode

    return decode(path).wav


@pytest.fixture
def torch_one_thread():
    """torch on one thread for the test (head training is deterministic per thread count
    and two threads fight the test's own worker processes on 2 cores), restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~10 s of espeak-ng speech, 22.05 kHz wav."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng missing")
    d = tmp_path_factory.mktemp("speech")
    return speak(" ".join(LINES[:2]), "en-us+m3", d / "speech.wav")


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CLIPS_DIR/<Artist>/*.wav: three espeak-ng voices, three lines each."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng missing")
    root = tmp_path_factory.mktemp("clips")
    for artist, voice in VOICES.items():
        (root / artist).mkdir()
        for i, line in enumerate(LINES[:3]):
            speak(line + " " + line, voice, root / artist / f"{i}.wav")
    return root


@pytest.fixture(scope="session")
def encoder():
    from inference import load_encoder

    return load_encoder("resemblyzer")


@pytest.fixture(scope="session")
def pipeline(encoder):
    from inference import Pipeline

    p = Pipeline(encoder)
    p.warmup()
    return p


@pytest.fixture(scope="session")
def catalog_dir(clips_dir: Path, pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from inference import build_catalog

    catalog, report = build_catalog(clips_dir, pipeline)
    assert report.clips == 9 and not report.skipped
    return catalog.save(tmp_path_factory.mktemp("catalog") / "cat")


@pytest.fixture(scope="session")
def analyzer(catalog_dir: Path, pipeline):
    from inference import Analyzer, Catalog

    a = Analyzer(Catalog.load(catalog_dir), pipeline)
    a.warmup()
    return a


def write_wav(path: Path, wav: np.ndarray, sr: int = 16000) -> Path:
    sf.write(path, wav, sr, subtype="FLOAT" if wav.dtype == np.float32 else "PCM_16")
    return path
