"""Notes over a beat with music in it (808, chords, melody), as members send them.

The beats come from two families: the numpy synthesiser the separator was trained with
(``inference.audio.beats``) and General-MIDI patterns played by fluidsynth with another
soundfont (``bench.gm_beats``, family gm-b), which nothing was trained or tuned on.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from inference import BeatWithoutVoiceError, NoVoiceError, Pipeline, PipelineOptions
from inference.audio.beats import make_beat, mix_at_snr
from tests.conftest import read16k

SR = 16_000
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def take(speech_wav) -> np.ndarray:
    """About 20 s of one espeak-ng voice rapping (the session's speech, twice)."""
    voice = read16k(speech_wav)
    return np.concatenate([voice, voice])[: 20 * SR].astype(np.float32)


@pytest.fixture(scope="module")
def gm_beat():
    if shutil.which("fluidsynth") is None:
        pytest.skip("fluidsynth missing (scripts/setup.sh --dev installs it)")
    from bench.gm_beats import render

    return render("drill", 140.0, 20.0, seed=5, soundfont="timgm")


def _tempo_ok(measured: float, bpm: float) -> bool:
    return any(abs(measured / (bpm * k) - 1.0) <= 0.04 for k in (0.5, 1.0, 2.0))


@pytest.mark.parametrize(
    ("style", "parts"),
    [
        ("trap", None),
        ("boombap", None),
        ("lofi", ("chords", "melody")),
        ("boombap", ("drums",)),
    ],
    # not here: the synthesiser's vocal-like lead alone (a formant-filtered saw with
    # vibrato) is still taken for a voice (docs/over-beat.md)
    ids=["trap", "boombap", "chords+melody", "drums"],
)
def test_a_beat_alone_is_refused(pipeline: Pipeline, style, parts) -> None:
    beat = make_beat(style, seconds=20.0, rng=11, parts=parts)
    with pytest.raises(NoVoiceError):
        pipeline.features_from_wav(beat.audio)


def test_an_instrumental_gets_the_beat_sentence(pipeline: Pipeline, gm_beat) -> None:
    with pytest.raises(BeatWithoutVoiceError, match="I hear a beat but no voice"):
        pipeline.features_from_wav(gm_beat.audio)


@pytest.mark.parametrize("family", ["numpy", "gm-b"])
def test_a_voice_over_a_beat_is_measured_on_the_voice(
    pipeline: Pipeline, take: np.ndarray, gm_beat, family: str
) -> None:
    if family == "numpy":
        beat, bpm = make_beat("trap", 142.0, 20.0, rng=3).audio, 142.0
    else:
        beat, bpm = gm_beat.audio, gm_beat.bpm
    mixed = mix_at_snr(take, beat, 2.0)
    clean_prep, over_prep = pipeline.prepare(take), pipeline.prepare(mixed)
    assert clean_prep.beat is None
    assert over_prep.beat is not None and over_prep.beat.size == over_prep.window.size
    assert over_prep.voiced_seconds >= 0.7 * clean_prep.voiced_seconds
    clean, over = pipeline.features_from_wav(take).style, pipeline.features_from_wav(mixed).style
    assert abs(over.pitch_median_hz / clean.pitch_median_hz - 1) < 0.08
    assert abs(over.pitch_range_semitones - clean.pitch_range_semitones) < 4.0
    assert abs(over.syllable_rate / clean.syllable_rate - 1) < 0.2
    assert _tempo_ok(over.tempo_bpm, bpm), (over.tempo_bpm, bpm)


def test_a_clean_take_is_analysed_as_before(encoder, pipeline: Pipeline, take) -> None:
    plain = Pipeline(encoder, PipelineOptions(isolate=False))
    a, b = pipeline.features_from_wav(take), plain.features_from_wav(take)
    assert pipeline.prepare(take).beat is None
    np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-6)
    assert a.style == b.style


def test_the_refusal_reads_in_korean() -> None:
    from bot.pool.worker import _refusal

    korean = _refusal(BeatWithoutVoiceError("I hear a beat but no voice"), "ko")
    generic = _refusal(NoVoiceError("no voice"), "ko")
    assert korean and korean != generic and "beat" not in korean


def test_a_catalogue_from_songs(pipeline: Pipeline, clips_dir, tmp_path) -> None:
    """Full tracks with their instrumental: a 30 s intro of beat alone, then rapping over
    the beat. The intro's window is left out (said why), the rapped one kept, and each
    file says how much voice it gave."""
    from inference import build_catalog
    from tests.conftest import write_wav

    songs = tmp_path / "songs"
    for k, artist in enumerate(("Alpha", "Bravo")):
        rap = np.concatenate([read16k(p) for p in sorted((clips_dir / artist).iterdir())])
        beat = make_beat("boombap", 90.0, 30.0 + rap.size / SR, rng=20 + k).audio
        song = beat.copy()
        song[30 * SR :] = mix_at_snr(rap, beat[30 * SR :], 3.0)
        (songs / artist).mkdir(parents=True)
        write_wav(songs / artist / "track.wav", song.astype(np.float32))
    catalog, report = build_catalog(songs, pipeline, projection="none", augment="none")
    assert report.clips == 2 and len(catalog.artists) == 2
    assert [(s, kept, windows) for s, _, kept, windows in report.voice] == [
        ("Alpha/track.wav", 1, 2),
        ("Bravo/track.wav", 1, 2),
    ]
    assert all(voiced >= 8.0 for _, voiced, _, _ in report.voice)
    assert len(report.skipped) == 2 and all("no voice" in s for s in report.skipped)
