"""bench.gm_beats: General-MIDI beats rendered by fluidsynth (the second beat family).

Every beat is rendered once per module (short beats, a few seconds in all). Skipped only
when fluidsynth is not on PATH; a missing soundfont fails (scripts/setup.sh --dev installs
both).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import librosa
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None,
    reason="fluidsynth is not on PATH (bash scripts/setup.sh --dev installs it)",
)

from bench.gm_beats import (  # noqa: E402
    FAMILIES,
    PARTS,
    PEAK,
    GMBeat,
    GMBeatsUnavailable,
    family_beats,
    render,
)

TEMPO_TOLERANCE = 0.04


@pytest.fixture(scope="module")
def beats() -> dict[str, GMBeat]:
    tonal = ("chords", "melody")
    return {
        "full": render("trap", 150.0, 8.0, seed=3, soundfont="fluid"),
        "drums_boombap": render("boombap", 90.0, 10.0, seed=1, parts=("drums",)),
        "drums_drill": render("drill", 141.0, 10.0, seed=2, soundfont="timgm", parts=("drums",)),
        "tonal_fluid": render("rnb", 76.0, 8.0, seed=4, soundfont="fluid", parts=tonal),
        "tonal_timgm": render("rnb", 76.0, 8.0, seed=4, soundfont="timgm", parts=tonal),
    }


def test_render_has_requested_length_and_beat_grid(beats: dict[str, GMBeat]) -> None:
    beat = beats["full"]
    assert beat.audio.dtype == np.float32 and beat.audio.ndim == 1
    assert beat.sr == 16000 and len(beat.audio) == round(8.0 * 16000)
    assert beat.parts == PARTS and beat.style == "trap" and beat.soundfont == "fluid"
    assert [p for p, _ in beat.programs] == list(PARTS)
    np.testing.assert_allclose(np.diff(beat.beat_times), 60 / 150, rtol=1e-5)
    assert beat.beat_times[0] == 0 and beat.beat_times[-1] < 8.0
    assert len(beat.beat_times) == 20  # 8 s at 150 BPM
    np.testing.assert_array_equal(beat.downbeats, beat.beat_times[::4])


@pytest.mark.parametrize("name", ["full", "drums_boombap", "drums_drill", "tonal_timgm"])
def test_render_is_not_silent_anywhere(beats: dict[str, GMBeat], name: str) -> None:
    audio, sr = beats[name].audio, beats[name].sr
    assert np.sqrt(np.mean(audio**2)) > 0.03
    seconds = len(audio) // sr
    window_rms = np.sqrt(np.mean(audio[: seconds * sr].reshape(seconds, sr) ** 2, axis=1))
    assert window_rms.min() > 0.005, f"a silent second: {np.round(window_rms, 4)}"


@pytest.mark.parametrize("name", ["full", "drums_boombap", "drums_drill", "tonal_fluid"])
def test_render_is_peak_normalised_not_clipped(beats: dict[str, GMBeat], name: str) -> None:
    audio = beats[name].audio
    peak = float(np.max(np.abs(audio)))
    assert abs(peak - PEAK) < 1e-3
    # a clipped (flat-topped) render has many samples at its peak; music has a handful
    assert np.mean(np.abs(audio) >= 0.98 * peak) < 1e-3


@pytest.mark.parametrize("name", ["drums_boombap", "drums_drill"])
def test_drums_carry_the_tempo(beats: dict[str, GMBeat], name: str) -> None:
    beat = beats[name]
    tempo, _ = librosa.beat.beat_track(y=beat.audio, sr=beat.sr, hop_length=128)
    found = float(np.atleast_1d(tempo)[0])
    error = min(abs(found / (beat.bpm * k) - 1) for k in (0.5, 1.0, 2.0))
    assert error < TEMPO_TOLERANCE, f"{found:.1f} BPM found, {beat.bpm} played"


def test_chords_and_melody_sit_in_the_voice_range(beats: dict[str, GMBeat]) -> None:
    beat = beats["tonal_fluid"]
    power = np.abs(librosa.stft(beat.audio, n_fft=2048)) ** 2
    freqs = librosa.fft_frequencies(sr=beat.sr, n_fft=2048)
    share = power[(freqs >= 100) & (freqs <= 900)].sum() / power.sum()
    assert share > 0.6, f"only {share:.2f} of the energy in 100-900 Hz"


def test_melody_has_a_stable_in_tune_pitch(beats: dict[str, GMBeat]) -> None:
    beat = beats["tonal_fluid"]
    f0, voiced, _ = librosa.pyin(beat.audio, fmin=150, fmax=1000, sr=beat.sr, frame_length=2048)
    assert voiced.mean() > 0.5
    midi = librosa.hz_to_midi(f0[voiced])
    in_tune = np.abs(midi - np.round(midi)) < 0.3  # the soundfonts are tuned to A440
    steady = np.abs(np.diff(midi)) < 0.5
    in_band = (f0[voiced] >= 200) & (f0[voiced] <= 900)
    assert in_tune.mean() > 0.6 and steady.mean() > 0.5 and in_band.mean() > 0.6


def test_the_two_soundfonts_play_the_same_notes_differently(beats: dict[str, GMBeat]) -> None:
    a, b = beats["tonal_fluid"], beats["tonal_timgm"]
    assert (a.key, a.programs) == (b.key, b.programs) and len(a.audio) == len(b.audio)
    mel_a = librosa.power_to_db(librosa.feature.melspectrogram(y=a.audio, sr=a.sr, n_mels=64))
    mel_b = librosa.power_to_db(librosa.feature.melspectrogram(y=b.audio, sr=b.sr, n_mels=64))
    assert np.corrcoef(mel_a.ravel(), mel_b.ravel())[0, 1] < 0.97
    assert np.mean(np.abs(mel_a - mel_b)) > 3.0  # dB


def test_a_missing_soundfont_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GMBeatsUnavailable, match=r"not found.*setup\.sh --dev"):
        render("trap", 140.0, 2.0, seed=0, soundfont=tmp_path / "missing.sf2")


def test_cache_renders_once_and_keys_on_arguments(tmp_path: Path) -> None:
    first = render("lofi", 80.0, 2.0, seed=5, soundfont="timgm", cache_dir=tmp_path)
    files = sorted(tmp_path.glob("*.npz"))
    assert len(files) == 1
    again = render("lofi", 80.0, 2.0, seed=5, soundfont="timgm", cache_dir=tmp_path)
    np.testing.assert_array_equal(first.audio, again.audio)
    assert (again.key, again.programs, again.parts) == (first.key, first.programs, first.parts)
    other = render("lofi", 80.0, 2.0, seed=6, soundfont="timgm", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert not np.array_equal(other.audio, first.audio)


def test_families_are_disjoint() -> None:
    a, b = FAMILIES["gm-a"], FAMILIES["gm-b"]
    assert a.soundfont != b.soundfont
    for sa in a.styles:
        for sb in b.styles:
            assert sa.bpm[1] < sb.bpm[0] or sb.bpm[1] < sa.bpm[0], (sa.name, sb.name)
    tonal_a = {p for s in a.styles for p in s.bass + s.chords + s.melody}
    tonal_b = {p for s in b.styles for p in s.bass + s.chords + s.melody}
    assert not tonal_a & tonal_b
    # the training family plays none of the instruments the two test families play
    train = FAMILIES["gm-train"]
    assert not {p for s in train.styles for p in s.bass + s.chords + s.melody} & (tonal_a | tonal_b)


def test_family_beats_are_varied_and_drawn_from_the_family() -> None:
    drawn = family_beats("gm-b", 5, seconds=2.0, seed=0)
    assert len(drawn) == 5
    family = FAMILIES["gm-b"]
    for beat in drawn:
        style = next(s for s in family.styles if s.name == beat.style)
        assert style.bpm[0] <= beat.bpm <= style.bpm[1]
        assert beat.soundfont == family.soundfont
    mixes = [beat.parts for beat in drawn]
    assert ("drums",) in mixes and ("chords", "melody") in mixes
    assert any("drums" in m and "melody" in m for m in mixes)
    assert len({beat.style for beat in drawn}) == len(family.styles)
