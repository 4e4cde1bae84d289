"""Flow timing: syllables placed on the beat's grid (or the member's own pulse).

Takes are built with timing known: one espeak-ng syllable copied onto a 16th-note pattern
at a chosen offset and jitter, alone or over a numpy beat of a known tempo and grid.
"""

from __future__ import annotations

import numpy as np
import pytest

from inference import Pipeline
from inference.audio.beats import make_beat, mix_at_snr
from inference.rhythm import measure
from inference.rhythm.grid import Grid, beat_grid
from inference.rhythm.metrics import place
from inference.rhythm.onsets import syllable_onsets
from tests.conftest import needs_espeak, read16k, speak, write_wav

SR = 16_000
PATTERN = (0, 2, 3, 4, 6, 8, 10, 11, 12)  # 16th slots of a bar; beat 4 rests
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def syllables(tmp_path_factory) -> list[np.ndarray]:
    """Three spoken syllables, each cut to start at its onset."""
    if needs_espeak.args[0]:
        pytest.skip("espeak-ng missing")
    out = []
    for i, word in enumerate(("bap", "dat", "go")):
        wav = read16k(speak(word, "en-us+m1", tmp_path_factory.mktemp("syl") / f"{i}.wav"))
        frames = wav[: wav.size // 160 * 160].reshape(-1, 160)
        db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        start = int(np.argmax(db > db.max() - 20)) * 160
        out.append(wav[start : start + int(0.16 * SR)].copy())
    return out


def take(syllables, bpm: float, offset_ms: float, jitter_ms: float, seed: int, seconds=20.0):
    """A take on a 16th grid starting at 0 s; every syllable shifted by offset + jitter."""
    rng = np.random.default_rng(seed)
    q = 60.0 / bpm / 4
    wav = np.zeros(int(seconds * SR) + SR, dtype=np.float32)
    for bar in range(int(seconds / (16 * q))):
        for slot in PATTERN:
            t = (bar * 16 + slot) * q + (offset_ms + rng.normal(0.0, jitter_ms)) / 1000
            if t < 0:
                continue
            x = syllables[rng.integers(len(syllables))]
            i = int(t * SR)
            wav[i : i + x.size] += x[: wav.size - i]
    return (0.3 * wav[: int(seconds * SR)] / np.abs(wav).max()).astype(np.float32)


@pytest.mark.parametrize(("style", "bpm"), [("boombap", 88.0), ("trap", 142.0), ("lofi", 76.0)])
def test_the_beat_grid_has_the_beats_tempo_and_phase(style, bpm) -> None:
    beat = make_beat(style, bpm, 20.0, 3, swing=0.0)
    grid = beat_grid(beat.audio)
    assert grid is not None and grid.kind == "beat"
    ratio = grid.bpm / bpm
    assert min(abs(ratio - k) / k for k in (0.5, 1.0, 2.0)) < 0.02, grid.bpm
    ticks = grid.downbeat_s + np.arange(60) * grid.beat_s
    ticks = ticks[(ticks > 1.0) & (ticks < 19.0)]
    errors = [np.min(np.abs(beat.beat_times - t)) for t in ticks]
    assert np.median(errors) < 0.03


def test_onsets_follow_the_syllables(syllables) -> None:
    wav = take(syllables, 90.0, 0.0, 0.0, 1)
    onsets = syllable_onsets(wav)
    q = 60.0 / 90.0 / 4
    truth = np.array([(b * 16 + s) * q for b in range(int(20.0 / (16 * q))) for s in PATTERN])
    assert abs(onsets.size - truth.size) <= 0.05 * truth.size
    lag = [np.min(np.abs(truth - t)) for t in onsets]
    assert np.median(lag) < 0.04  # the vowel's rise comes a few tens of ms after the word


def test_a_known_shift_is_recovered_over_a_beat(syllables, pipeline: Pipeline) -> None:
    beat = make_beat("boombap", 90.0, 20.0, 5, swing=0.0)
    measured = {}
    for offset in (-60.0, 80.0):
        voice = take(syllables, 90.0, offset, 10.0, 2)
        feats = pipeline.features_from_wav(mix_at_snr(voice, beat.audio, 4.0, 0))
        assert feats.rhythm is not None and feats.rhythm.grid == "beat"
        assert abs(feats.rhythm.bpm / 90.0 - 1) < 0.02
        assert feats.style.tempo_bpm == pytest.approx(feats.rhythm.bpm, abs=0.01)
        measured[offset] = feats.rhythm.offset_ms
    assert measured[80.0] - measured[-60.0] == pytest.approx(140.0, abs=25.0)


def test_a_cappella_is_measured_against_the_own_pulse(syllables, pipeline: Pipeline) -> None:
    feats = pipeline.features_from_wav(take(syllables, 96.0, 0.0, 10.0, 3))
    rhythm = feats.rhythm
    assert rhythm is not None and rhythm.grid == "own pulse"
    assert min(abs(rhythm.bpm / (96.0 * k) - 1) for k in (0.5, 1.0, 2.0)) < 0.02
    assert abs(rhythm.tempo_drift_pct) < 2.0
    assert rhythm.as_dict()["grid"] == "own pulse"


def test_jitter_reads_looser_than_a_tight_take(syllables) -> None:
    tight = measure(take(syllables, 100.0, 0.0, 10.0, 4))
    loose = measure(take(syllables, 100.0, 0.0, 50.0, 4))
    assert tight is not None and loose is not None
    assert loose.tightness_ms > 1.5 * tight.tightness_ms
    assert tight.on_grid_share > loose.on_grid_share


def test_a_late_rapper_on_a_fast_beat_is_late_not_early() -> None:
    """100 ms behind at 150 BPM is past the middle of a 16th (100 ms): still late."""
    grid = Grid("beat", 0.4, 0.0, 0.5)
    onsets = np.array([(b * 16 + s) * 0.1 for b in range(4) for s in PATTERN]) + 0.06
    _, _, dev = place(onsets, grid)
    assert np.median(dev) == pytest.approx(60.0, abs=1.0)


def test_too_few_syllables_place_no_grid(syllables) -> None:
    wav = np.zeros(4 * SR, dtype=np.float32)
    for k in range(3):
        wav[k * SR : k * SR + syllables[0].size] += syllables[0]
    assert measure(wav) is None


def test_the_json_has_the_rhythm_object(syllables, analyzer, tmp_path) -> None:
    result = analyzer.analyze(write_wav(tmp_path / "t.wav", take(syllables, 92.0, 0.0, 10.0, 6)))
    rhythm = result.to_json_dict()["rhythm"]
    for key in (
        "grid",
        "bpm",
        "offset_ms",
        "tightness_ms",
        "on_grid_share",
        "syllables_per_beat",
        "bar_density_change",
        "rests",
        "tempo_drift_pct",
        "swing",
    ):
        assert key in rhythm
    assert len(rhythm["rests"]) == 4 and rhythm["syllables"]
