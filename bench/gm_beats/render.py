"""Beats as audio: fluidsynth plays each part, the parts are mixed, renders are cached.

``render`` composes a beat (``compose``), writes each requested part as its own MIDI file
(``midi``), plays them with the ``fluidsynth`` command line in parallel, mixes the parts at
their levels relative to the drums (measured on active frames), resamples, fades out and
peak-normalises; with ``cache_dir`` the result is stored as ``.npz`` keyed by every
argument and by the source of the whole package. ``family_beats`` draws varied beats of a
family.

Deliberately not here: the notes (``compose``), MIDI (``midi``), constants and styles
(``styles``), installing fluidsynth or soundfonts (``scripts/setup.sh --dev``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from functools import cache
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
import soxr

from .compose import _Composer
from .midi import _midi_file
from .styles import (
    ACTIVE_FRAME,
    ACTIVE_RANGE_DB,
    BEATS_PER_BAR,
    DRUMS_ONLY,
    FADE_SECONDS,
    FAMILIES,
    FLUIDSYNTH_GAIN,
    FLUIDSYNTH_TIMEOUT_SECONDS,
    FULL_MIXES,
    INSTALL_HINT,
    PARTS,
    PEAK,
    RENDER_SR,
    SENDS,
    SOUNDFONTS,
    STYLES,
    TONAL_ONLY,
    GMBeat,
    GMBeatsUnavailable,
    Style,
)

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _soundfont_path(soundfont: str | os.PathLike[str]) -> Path:
    path = SOUNDFONTS.get(str(soundfont), Path(soundfont))
    if not path.is_file():
        raise GMBeatsUnavailable(f"soundfont {soundfont!r} not found at {path}: {INSTALL_HINT}")
    return path


def _fluidsynth() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise GMBeatsUnavailable(f"the fluidsynth command is not on PATH: {INSTALL_HINT}")
    return exe


@cache
def _source_digest() -> str:
    """The hash of every module of the package: a change anywhere invalidates the cache."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _fx_off(sends: tuple[int, int]) -> list[str]:
    """fluidsynth flags turning off the reverb/chorus a part sends nothing to (saves time)."""
    reverb, chorus = sends
    return (["-R", "0"] if reverb == 0 else []) + (["-C", "0"] if chorus == 0 else [])


def _play(mids: dict[str, mido.MidiFile], sf2: Path) -> dict[str, np.ndarray]:
    """Each MIDI file played by fluidsynth (in parallel): float32 mono at RENDER_SR."""
    exe = _fluidsynth()
    with tempfile.TemporaryDirectory(prefix="gm_beats-") as tmp:
        jobs: dict[str, tuple[subprocess.Popen[bytes], Path, Path]] = {}
        try:
            for name, mid in mids.items():
                midi_path, wav_path = Path(tmp) / f"{name}.mid", Path(tmp) / f"{name}.wav"
                log_path = Path(tmp) / f"{name}.log"
                mid.save(midi_path)
                cmd = [
                    exe, "-ni", "-q", "-g", str(FLUIDSYNTH_GAIN), "-r", str(RENDER_SR),
                    "-o", "synth.dynamic-sample-loading=1",  # load only the presets used
                    *_fx_off(SENDS.get(name, (1, 1))),
                    "-O", "float", "-T", "wav", "-F", str(wav_path), str(sf2), str(midi_path),
                ]  # fmt: skip
                with open(log_path, "wb") as log:
                    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
                jobs[name] = (proc, wav_path, log_path)
            out: dict[str, np.ndarray] = {}
            for name, (proc, wav_path, log_path) in jobs.items():
                proc.wait(timeout=FLUIDSYNTH_TIMEOUT_SECONDS)
                if proc.returncode != 0 or not wav_path.is_file():
                    tail = log_path.read_text(errors="replace").strip()[-500:]
                    raise RuntimeError(f"fluidsynth failed ({proc.returncode}) on {sf2}: {tail}")
                audio, rate = sf.read(wav_path, dtype="float32", always_2d=True)
                if rate != RENDER_SR:
                    raise RuntimeError(f"fluidsynth wrote {rate} Hz, asked for {RENDER_SR}")
                out[name] = audio.mean(axis=1)
            return out
        finally:
            for proc, _, _ in jobs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def _active_level_db(audio: np.ndarray) -> float | None:
    """Mean power (dB) of the frames within ACTIVE_RANGE_DB of the loudest; None if silent."""
    frames = len(audio) // ACTIVE_FRAME
    if frames == 0:
        return None
    power = np.mean(audio[: frames * ACTIVE_FRAME].reshape(frames, -1) ** 2, axis=1)
    if power.max() < 1e-12:
        return None
    active = power >= power.max() * 10 ** (-ACTIVE_RANGE_DB / 10)
    return float(10 * np.log10(power[active].mean()))


def render(
    style: str | Style,
    bpm: float,
    seconds: float,
    seed: int,
    soundfont: str | os.PathLike[str] = "fluid",
    parts: Sequence[str] = PARTS,
    sr: int = 16000,
    cache_dir: str | os.PathLike[str] | None = None,
) -> GMBeat:
    """One beat of ``seconds`` at ``bpm``, composed from ``seed``, played with ``soundfont``.

    ``style``: a name in ``STYLES`` or a ``Style``; ``soundfont``: "fluid", "timgm" or a
    path to an .sf2; ``parts``: which of ``PARTS`` are played. Raises
    ``GMBeatsUnavailable`` when fluidsynth or the soundfont is missing.
    """
    if isinstance(style, str):
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; one of {sorted(STYLES)}")
        style = STYLES[style]
    unknown = set(parts) - set(PARTS)
    parts = tuple(p for p in PARTS if p in parts)  # canonical order
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of {PARTS}, got {unknown or 'none'}")
    if not 0 < seconds <= 600 or not 30 <= bpm <= 300:
        raise ValueError(f"need 0 < seconds <= 600 and 30 <= bpm <= 300, got {seconds}, {bpm}")
    sf2 = _soundfont_path(soundfont)
    _fluidsynth()
    cache_path = None
    if cache_dir is not None:
        key = json.dumps(
            {
                "style": asdict(style), "bpm": bpm, "seconds": seconds, "seed": seed,
                "soundfont": str(sf2.resolve()), "sf2_bytes": sf2.stat().st_size,
                "parts": parts, "sr": sr, "source": _source_digest(),
            },
            sort_keys=True,
        )  # fmt: skip
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        cache_path = Path(cache_dir) / f"{style.name}-{bpm:g}bpm-seed{seed}-{digest}.npz"
        if cache_path.is_file():
            return _load(cache_path, soundfont)

    bar_seconds = BEATS_PER_BAR * 60 / bpm
    bars = math.ceil(seconds / bar_seconds) + 1
    composer = _Composer(style, bpm, bars, seed)
    written = {  # every part is written (same draws whatever is played), in this order
        "drums": composer.drums(),
        "bass": composer.bass(),
        "chords": composer.chords(),
        "melody": composer.melody(),
    }
    mids = {p: _midi_file({p: written[p]}, composer.programs, bpm, bars) for p in parts}
    n_render = round(seconds * RENDER_SR)
    audio = np.zeros(n_render, dtype=np.float32)
    for part, stem in _play(mids, sf2).items():
        stem = np.pad(stem[:n_render], (0, max(0, n_render - len(stem))))
        level = _active_level_db(stem)
        if level is not None:
            audio += stem * np.float32(10 ** ((composer.levels_db[part] - level) / 20))
    audio = soxr.resample(audio, RENDER_SR, sr, quality="HQ").astype(np.float32)
    n = round(seconds * sr)
    audio = np.pad(audio[:n], (0, max(0, n - len(audio))))
    fade = min(n, round(FADE_SECONDS * sr))
    audio[n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    peak = float(np.max(np.abs(audio)))
    if peak < 1e-4:
        raise RuntimeError(f"fluidsynth rendered silence ({style.name}, {parts}, {sf2})")
    audio *= PEAK / peak

    seconds_per_beat = mido.bpm2tempo(bpm) / 1e6  # the tempo the MIDI file really has
    beat_times = np.arange(0, seconds, seconds_per_beat)
    beat = GMBeat(
        audio=audio,
        sr=sr,
        bpm=float(bpm),
        beat_times=beat_times,
        downbeats=beat_times[::BEATS_PER_BAR].copy(),
        style=style.name,
        parts=parts,
        soundfont=str(soundfont),
        seed=int(seed),
        key=f"{NOTE_NAMES[composer.root]} minor",
        programs=tuple((p, composer.programs[p]) for p in parts),
    )
    if cache_path is not None:
        _save(cache_path, beat)
    return beat


def _save(path: Path, beat: GMBeat) -> None:
    meta = {
        "sr": beat.sr, "bpm": beat.bpm, "style": beat.style, "parts": beat.parts,
        "seed": beat.seed, "key": beat.key, "programs": beat.programs,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(
            f,
            audio=beat.audio,
            beat_times=beat.beat_times,
            downbeats=beat.downbeats,
            meta=np.array(json.dumps(meta)),
        )
    os.replace(tmp, path)  # atomic: parallel test workers never read half a file


def _load(path: Path, soundfont: str | os.PathLike[str]) -> GMBeat:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        return GMBeat(
            audio=data["audio"],
            sr=int(meta["sr"]),
            bpm=float(meta["bpm"]),
            beat_times=data["beat_times"],
            downbeats=data["downbeats"],
            style=meta["style"],
            parts=tuple(meta["parts"]),
            soundfont=str(soundfont),
            seed=int(meta["seed"]),
            key=meta["key"],
            programs=tuple((p, int(q)) for p, q in meta["programs"]),
        )


def family_beats(
    family: str,
    n: int,
    seconds: float = 30.0,
    seed: int = 0,
    sr: int = 16000,
    cache_dir: str | os.PathLike[str] | None = None,
) -> list[GMBeat]:
    """``n`` varied beats of ``family`` ("gm-a" or "gm-b"), the same for the same seed.

    Styles take turns; tempo and the beat's seed are drawn. Of every five beats, three
    have drums and tonal parts (all four, or one tonal part left out), one is chords and
    melody only and one is drums only.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {sorted(FAMILIES)}")
    fam = FAMILIES[family]
    rng = np.random.default_rng([seed, list(FAMILIES).index(family)])
    beats: list[GMBeat] = []
    for i in range(n):
        style = fam.styles[i % len(fam.styles)]
        bpm = round(float(rng.uniform(*style.bpm)), 1)
        mix = FULL_MIXES[int(rng.integers(len(FULL_MIXES)))]
        parts = {3: TONAL_ONLY, 4: DRUMS_ONLY}.get(i % 5, mix)
        beat_seed = int(rng.integers(2**31))
        beats.append(render(style, bpm, seconds, beat_seed, fam.soundfont, parts, sr, cache_dir))
    return beats
