"""bench.timing_takes: takes whose timing is known must be where their truth says.

The generator only (the rhythm pipeline is measured by ``bench.rhythm``): onsets found in
the rendered audio agree with the truth, offset and swing move them as asked, a take is a
function of its seed, and an a cappella take has no beat. Words come from the Debian TTS
voices of ../shared/corpus (espeak-ng is enough).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import timing_takes as tt

SR = tt.SR


@pytest.fixture(scope="module")
def voice() -> str:
    voices = tt.installed_voices("A")
    if not voices:
        pytest.skip("no TTS voice of set A installed (../shared/corpus/install_voices.sh)")
    return "espeak-m1" if "espeak-m1" in voices else voices[0]


@pytest.fixture(scope="module")
def words(tmp_path_factory: pytest.TempPathFactory) -> tt.WordBank:
    return tt.WordBank(tmp_path_factory.mktemp("timing-words"))


def _spec(voice: str, **changes: object) -> tt.TakeSpec:
    spec = tt.TakeSpec(
        set_name="A", index=0, seed=3, voice=voice, bpm=90.0, seconds=10.0,
        patterns=("xxxxxxxxxxxx....", "x.x.xx.xx.x.x..."), step=1, swing=0.5, jitter_ms=10.0,
    )  # fmt: skip
    return spec.but(**changes)


def test_energy_onset_of_a_burst() -> None:
    x = np.zeros(SR // 2, dtype=np.float32)
    t = np.arange(2000) / SR
    x[3000:5000] = np.sin(2 * np.pi * 220 * t) * np.exp(-t / 0.05)
    assert abs(tt.energy_onset(x) - 3000) <= 0.006 * SR  # within 6 ms of where it starts


def test_onsets_in_the_audio_are_where_the_truth_says(voice: str, words: tt.WordBank) -> None:
    take = tt.render_take(_spec(voice), words)
    truth = take.truth
    assert take.audio.dtype == np.float32 and take.audio.size == round(10.0 * SR)
    assert truth.onset_times.size == truth.grid_times.size > 20
    ends = [*truth.starts[1:], take.audio.size]
    found = np.array(
        [s + tt.energy_onset(take.audio[s:e]) for s, e in zip(truth.starts, ends, strict=True)]
    )
    error_ms = np.abs(found / SR - truth.onset_times) * 1000
    assert np.median(error_ms) <= 1.0 and np.mean(error_ms <= 3.0) >= 0.95, error_ms
    # the realised offset and jitter are what was asked
    dev_ms = (truth.onset_times - truth.grid_times) * 1000
    assert abs(truth.offset_ms) < 5.0 and 5.0 < truth.jitter_ms < 15.0
    assert np.all(np.diff(truth.onset_times) >= tt.MIN_GAP_S - 1e-9)
    assert abs(np.median(dev_ms) - truth.offset_ms) < 1e-6


def test_offset_and_swing_move_the_onsets_as_asked(voice: str, words: tt.WordBank) -> None:
    base = tt.render_take(_spec(voice, jitter_ms=0.0), words).truth
    late = tt.render_take(_spec(voice, jitter_ms=0.0, offset_ms=50.0), words).truth
    swung = tt.render_take(_spec(voice, jitter_ms=0.0, swing=0.6), words).truth
    one_sample = 1.0 / SR
    assert np.allclose(base.onset_times, base.grid_times, atol=one_sample)
    assert np.allclose(late.onset_times - base.onset_times, 0.050, atol=2 * one_sample)
    assert np.allclose(late.grid_times, base.grid_times)
    assert abs(late.offset_ms - 50.0) < 0.1
    # swing 0.6: every off-beat 16th 0.2 of a 16th later, every other one unchanged
    odd = base.sixteenths % 2 == 1
    assert odd.sum() >= 8 and np.array_equal(swung.sixteenths, base.sixteenths)
    moved = swung.onset_times - base.onset_times
    assert np.allclose(moved[odd], 0.2 * base.beat_s / 4, atol=2 * one_sample)
    assert np.allclose(moved[~odd], 0.0, atol=2 * one_sample)


def test_takes_are_deterministic_and_the_sets_disjoint(voice: str, words: tt.WordBank) -> None:
    assert tt.draw_spec("A", 1, seed=5) == tt.draw_spec("A", 1, seed=5)
    assert tt.draw_spec("A", 1, seed=5) != tt.draw_spec("A", 1, seed=6)
    a = tt.render_take(_spec(voice), words)
    b = tt.render_take(_spec(voice), words)
    assert np.array_equal(a.audio, b.audio) and a.truth.words == b.truth.words
    other = tt.render_take(_spec(voice, seed=4), words)
    assert not np.array_equal(a.truth.onset_times, other.truth.onset_times)
    assert not set(tt.VOICES["A"]) & set(tt.VOICES["B"])
    assert not set(tt.PATTERNS["A"]) & set(tt.PATTERNS["B"])


def test_a_cappella_has_no_beat_and_a_beat_starts_before_the_voice(
    voice: str, words: tt.WordBank
) -> None:
    acap = tt.render_take(_spec(voice, lead_s=0.8), words)
    assert acap.truth.beat is None and acap.truth.spec.family is None
    before = acap.audio[: int(acap.truth.starts[0])]
    assert before.size > 0.5 * SR and np.sqrt(np.mean(before**2)) < 1e-3
    spec = _spec(voice, family="numpy", style="boombap", beat_seed=7, cut_s=0.9, snr_db=3.0)
    over = tt.render_take(spec, words)
    truth = over.truth
    assert truth.beat == "numpy boombap" and truth.bpm == pytest.approx(90.0)
    # the rapper comes in on a downbeat of the beat: bar starts are at k bars - cut_s
    bar = 4 * truth.beat_s
    assert truth.downbeat_s >= tt.MIN_INTRO_S
    assert ((truth.downbeat_s + 0.9) / bar) % 1 == pytest.approx(0.0, abs=1e-6)
    intro = over.audio[: int(truth.starts[0])]
    assert np.sqrt(np.mean(intro**2)) > 0.01  # the beat plays before the voice
