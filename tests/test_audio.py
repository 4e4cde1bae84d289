"""Decoding: formats, bytes, limits, and every kind of bad file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from inference import AudioDecodeError, decode
from tests.conftest import needs_ffmpeg, to_opus, write_wav


def _tone(seconds: float, sr: int, hz: float = 220.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _peak_hz(wav: np.ndarray, sr: int = 16000) -> float:
    spec = np.abs(np.fft.rfft(wav * np.hanning(wav.size)))
    return float(np.argmax(spec) * sr / wav.size)


def test_wav_is_resampled_to_16k_mono(tmp_path: Path) -> None:
    stereo = np.stack([_tone(2.0, 44100), _tone(2.0, 44100)], axis=1)
    d = decode(write_wav(tmp_path / "a.wav", stereo, 44100))
    assert d.wav.dtype == np.float32 and d.wav.ndim == 1
    assert d.original_sample_rate == 44100 and d.channels == 2
    assert abs(d.duration_seconds - 2.0) < 0.01
    assert abs(_peak_hz(d.wav) - 220) < 2


@needs_ffmpeg
@pytest.mark.parametrize(
    "suffix,args",
    [
        (".ogg", ["-c:a", "libopus"]),
        (".m4a", ["-c:a", "aac"]),
        (".mp3", []),
        (".flac", []),
        (".webm", ["-c:a", "libopus"]),
    ],
)
def test_formats_from_path_and_bytes(tmp_path: Path, suffix: str, args: list[str]) -> None:
    import subprocess

    src = write_wav(tmp_path / "src.wav", _tone(3.0, 48000), 48000)
    out = tmp_path / f"note{suffix}"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), *args, str(out)], check=True
    )
    from_path = decode(out)
    from_bytes = decode(out.read_bytes())
    for d in (from_path, from_bytes):
        assert abs(d.duration_seconds - 3.0) < 0.1, suffix
        assert abs(_peak_hz(d.wav) - 220) < 3, suffix
    np.testing.assert_allclose(from_path.wav, from_bytes.wav, atol=1e-4)


def test_decode_limit_and_truncation_flag(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", _tone(12.0, 16000))
    d = decode(path, max_seconds=5.0)
    assert d.truncated and abs(d.duration_seconds - 5.0) < 1e-3
    assert not decode(path).truncated


def test_two_hour_file_is_not_decoded_whole(tmp_path: Path) -> None:
    """A 2-hour wav (sparse on disk: a header, 10 s of tone, then zeros) reads 5 min."""
    path = tmp_path / "two_hours.wav"
    with sf.SoundFile(path, "w", samplerate=16000, channels=1, subtype="PCM_16") as f:
        f.write(_tone(10.0, 16000))
    n = 2 * 3600 * 16000
    raw = bytearray(path.read_bytes())
    data_at = raw.index(b"data")
    raw[4:8] = (data_at + 8 + 2 * n - 8).to_bytes(4, "little")  # RIFF size
    raw[data_at + 4 : data_at + 8] = (2 * n).to_bytes(4, "little")  # data size
    path.write_bytes(raw)
    with open(path, "r+b") as f:
        f.truncate(data_at + 8 + 2 * n)  # sparse: zeros cost no disk
    assert sf.info(str(path)).duration == pytest.approx(7200, abs=1)
    d = decode(path)
    assert d.truncated
    assert d.duration_seconds == pytest.approx(300.0, abs=0.01)


@needs_ffmpeg
def test_ffmpeg_path_honours_the_limit(tmp_path: Path) -> None:
    import subprocess

    src = write_wav(tmp_path / "src.wav", _tone(8.0, 16000))
    out = tmp_path / "x.m4a"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(src), "-c:a", "aac", str(out)], check=True
    )
    d = decode(out, max_seconds=3.0)
    assert d.truncated and d.duration_seconds == pytest.approx(3.0, abs=0.01)


def test_eight_channel_96k(tmp_path: Path) -> None:
    multi = np.tile(_tone(2.0, 96000, amp=0.3)[:, None], (1, 8))
    d = decode(write_wav(tmp_path / "m.wav", multi, 96000))
    assert d.channels == 8 and d.original_sample_rate == 96000
    assert abs(d.duration_seconds - 2.0) < 0.01 and abs(_peak_hz(d.wav) - 220) < 2


def test_clipping_is_measured(tmp_path: Path) -> None:
    wav = np.clip(_tone(2.0, 16000, amp=2.0), -1, 1)
    d = decode(write_wav(tmp_path / "c.wav", wav))
    assert d.clipped_fraction > 0.3
    assert decode(write_wav(tmp_path / "ok.wav", _tone(2.0, 16000))).clipped_fraction == 0


def test_a_few_nonfinite_samples_are_zeroed(tmp_path: Path) -> None:
    wav = _tone(2.0, 16000)
    wav[100:110] = np.nan
    wav[200] = np.inf
    d = decode(write_wav(tmp_path / "n.wav", wav))
    assert np.isfinite(d.wav).all() and 0 < d.nonfinite_fraction < 0.01


def test_mostly_nonfinite_is_refused(tmp_path: Path) -> None:
    wav = _tone(2.0, 16000)
    wav[::3] = np.nan
    with pytest.raises(AudioDecodeError, match="invalid"):
        decode(write_wav(tmp_path / "nan.wav", wav))


def test_float_wav_above_full_scale_is_rescaled(tmp_path: Path) -> None:
    d = decode(write_wav(tmp_path / "loud.wav", _tone(1.0, 16000, amp=4.0)))
    assert 0.9 < float(np.abs(d.wav).max()) <= 1.0


@pytest.mark.parametrize(
    "content,match",
    [
        (b"", "empty"),
        (b"hello, this is not audio at all\n" * 20, "could not read"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "could not read"),
    ],
    ids=["empty", "text", "png"],
)
def test_bad_files_named_ogg(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "note.ogg"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError, match=match):
        decode(path)
    if content:
        with pytest.raises(AudioDecodeError, match=match):
            decode(content)


@needs_ffmpeg
def test_truncated_ogg(tmp_path: Path) -> None:
    src = write_wav(tmp_path / "s.wav", _tone(6.0, 48000), 48000)
    ogg = to_opus(src, tmp_path / "s.ogg").read_bytes()
    head = decode(ogg[: len(ogg) // 2])  # half a file: what is there is decoded
    assert 1.0 < head.duration_seconds < 5.0
    with pytest.raises(AudioDecodeError):
        decode(ogg[:200])  # only the headers


def test_missing_file() -> None:
    with pytest.raises(AudioDecodeError, match="no such file"):
        decode("/nonexistent/note.ogg")


def test_file_object(tmp_path: Path) -> None:
    buf = io.BytesIO(write_wav(tmp_path / "a.wav", _tone(1.5, 16000)).read_bytes())
    assert decode(buf).duration_seconds == pytest.approx(1.5, abs=0.01)


def test_decoder_notes_stay_off_stderr(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    """libsndfile's mpg123 prints "Note: Illegal Audio-MPEG-Header ..." on the process's
    stderr for a file that only looks like mp3; a member must see our one-line error."""
    rng = np.random.default_rng(3)
    fake = b"ID3\x03\x00\x00\x00\x00\x00\x10" + rng.integers(0, 256, 30_000, np.uint8).tobytes()
    path = tmp_path / "song.mp3"
    path.write_bytes(fake)
    capfd.readouterr()
    for source in (path, fake):
        with pytest.raises(AudioDecodeError, match="could not read"):
            decode(source)
    err = capfd.readouterr().err
    assert "Illegal" not in err and "Note:" not in err, err
