"""Audio in: decode a path or bytes to 16 kHz mono float32, reading at most a set duration.

libsndfile (through soundfile) reads wav, flac, ogg/vorbis, ogg/opus and mp3 quickly and
lets us stop after N frames; everything else (m4a/aac, webm, mp4, amr...) goes through one
ffmpeg call, limited with ``-t`` so a two-hour file is never decoded whole.

This module does not judge content (silence, voice, length): ``inference.preprocess`` does.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from ..constants import CLIP_LEVEL, MAX_DECODE_SECONDS, SAMPLE_RATE
from ..errors import AudioDecodeError

log = logging.getLogger(__name__)

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO

MAX_NONFINITE_FRACTION = 0.01  # more NaN/inf samples than this: the file is refused
FFMPEG_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class DecodedAudio:
    """Decoded audio at 16 kHz mono, with what decoding noticed."""

    wav: np.ndarray = field(repr=False)  # float32 (n,), 16 kHz mono, roughly -1..1
    original_sample_rate: int
    channels: int
    truncated: bool  # the input was longer than the decode limit and was cut
    clipped_fraction: float  # share of input samples at full scale
    nonfinite_fraction: float  # share of NaN/inf samples, replaced with 0

    @property
    def duration_seconds(self) -> float:
        return self.wav.size / SAMPLE_RATE


def decode(source: Source, *, max_seconds: float = MAX_DECODE_SECONDS) -> DecodedAudio:
    """Decode ``source`` (a path, raw bytes or a binary file object) to 16 kHz mono.

    Reads at most ``max_seconds`` of audio from the start. Raises AudioDecodeError with a
    message a member can read when the input is empty, not audio, or damaged.
    """
    if max_seconds <= 0:
        raise ValueError("max_seconds must be positive")
    data, path = _as_bytes_or_path(source)
    if data is not None and len(data) == 0:
        raise AudioDecodeError("the file is empty")
    try:
        samples, sr, truncated = _read_soundfile(data, path, max_seconds)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        log.debug("libsndfile could not read the input (%s); trying ffmpeg", e)
        samples, sr, truncated = _read_ffmpeg(data, path, max_seconds)
    return _finish(samples, sr, truncated)


def _as_bytes_or_path(source: Source) -> tuple[bytes | None, Path | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise AudioDecodeError(f"no such file: {path}")
        if path.stat().st_size == 0:
            raise AudioDecodeError(f"the file is empty: {path.name}")
        return None, path
    if hasattr(source, "read"):
        return source.read(), None
    raise TypeError(f"cannot decode a {type(source).__name__}")


@contextlib.contextmanager
def _decoder_notes_to_log() -> Iterator[None]:
    """Catch what C decoders print on the process's stderr (libsndfile's mpg123 writes
    "Note: Illegal Audio-MPEG-Header ..." for every non-audio file it probes) and log it
    at debug level instead: a member or a CLI user sees one clear error, not the
    library's notes. The file descriptor itself is swapped, since the notes bypass
    Python's ``sys.stderr``."""
    fd = 2  # C's stderr, whatever Python's sys.stderr is (a logger, a test capture)
    try:
        saved = os.dup(fd)
    except OSError:  # the process has no stderr at all
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            notes = sink.read(4096).decode("utf-8", "replace").strip()
            if notes:
                log.debug("decoder said: %s", notes)


def _read_soundfile(
    data: bytes | None, path: Path | None, max_seconds: float
) -> tuple[np.ndarray, int, bool]:
    """(frames, channels) float32, the file's rate, and whether it was cut."""
    with _decoder_notes_to_log():
        return _read_soundfile_quietly(data, path, max_seconds)


def _read_soundfile_quietly(
    data: bytes | None, path: Path | None, max_seconds: float
) -> tuple[np.ndarray, int, bool]:
    handle = io.BytesIO(data) if data is not None else str(path)
    with sf.SoundFile(handle) as f:
        limit = int(max_seconds * f.samplerate)
        total = f.frames
        samples = f.read(
            frames=min(limit, total) if total > 0 else limit, dtype="float32", always_2d=True
        )
        truncated = total > limit
        if total <= 0:  # streams with unknown length: a further read tells
            truncated = f.read(frames=1, always_2d=True).shape[0] > 0
        return samples, f.samplerate, truncated


def _ffmpeg_cmd(input_spec: str, max_seconds: float) -> list[str]:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise AudioDecodeError(
            "this format needs ffmpeg, which is not installed (apt-get install ffmpeg)"
        )
    # -t before -i limits how much input is read; one extra second tells us if it was cut.
    return [
        exe,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-t",
        f"{max_seconds + 1:.3f}",
        "-i",
        input_spec,
        "-map",
        "0:a:0",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "f32le",
        "pipe:1",
    ]


def _run_ffmpeg(cmd: list[str], stdin: bytes | None) -> bytes:
    try:
        proc = subprocess.run(
            cmd, input=stdin, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise AudioDecodeError("decoding took too long; the file may be damaged") from e
    if proc.returncode != 0 or not proc.stdout:
        raise AudioDecodeError(
            f"could not read this file as audio ({_ffmpeg_reason(proc.stderr, cmd)})"
        )
    return proc.stdout


def _ffmpeg_reason(stderr: bytes, cmd: list[str]) -> str:
    """ffmpeg's complaint in a few words, without the file's path."""
    text = stderr.decode("utf-8", "replace")
    if "matches no streams" in text:
        return "it has no audio track"
    if "Invalid data found" in text:
        return "not an audio format we know"
    lines = text.strip().splitlines()
    why = lines[-1] if lines else "no audio decoded"
    source = cmd[cmd.index("-i") + 1]
    return why.split(": ", 1)[1] if why.startswith(source) and ": " in why else why


def _read_ffmpeg(
    data: bytes | None, path: Path | None, max_seconds: float
) -> tuple[np.ndarray, int, bool]:
    if path is not None:
        raw = _run_ffmpeg(_ffmpeg_cmd(str(path), max_seconds), None)
    else:
        try:
            raw = _run_ffmpeg(_ffmpeg_cmd("pipe:0", max_seconds), data)
        except AudioDecodeError:
            # mp4/m4a with the index at the end cannot be read from a pipe: use a private
            # temp file that is removed at once (raw audio is never kept).
            with tempfile.NamedTemporaryFile(prefix="rapsim-", suffix=".bin") as tmp:
                tmp.write(data or b"")
                tmp.flush()
                raw = _run_ffmpeg(_ffmpeg_cmd(tmp.name, max_seconds), None)
    samples = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    limit = int(max_seconds * SAMPLE_RATE)
    truncated = samples.size > limit
    return samples[:limit, None], SAMPLE_RATE, truncated


def _finish(samples: np.ndarray, sr: int, truncated: bool) -> DecodedAudio:
    if samples.size == 0:
        raise AudioDecodeError("the file holds no audio samples")
    finite = np.isfinite(samples)
    nonfinite = 1.0 - float(finite.mean())
    if nonfinite > MAX_NONFINITE_FRACTION:
        raise AudioDecodeError(
            f"{nonfinite:.0%} of the samples are invalid (NaN or infinite): the file is damaged"
        )
    if nonfinite:
        samples = np.where(finite, samples, 0.0).astype(np.float32)
    clipped = float((np.abs(samples) >= CLIP_LEVEL).mean())
    channels = samples.shape[1]
    mono = samples.mean(axis=1) if channels > 1 else samples[:, 0]
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak > 1.0:  # float files may exceed full scale; keep the shape, fix the level
        mono = mono / peak
    if sr != SAMPLE_RATE:
        mono = soxr.resample(mono, sr, SAMPLE_RATE, quality="HQ")
    return DecodedAudio(
        wav=np.ascontiguousarray(mono, dtype=np.float32),
        original_sample_rate=int(sr),
        channels=int(channels),
        truncated=bool(truncated),
        clipped_fraction=clipped,
        nonfinite_fraction=nonfinite,
    )
