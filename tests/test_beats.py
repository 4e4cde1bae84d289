"""The numpy beat synthesiser (``inference.audio.beats``): shape, determinism, the beat grid
against what an onset detector hears, pitched parts in the voice's band and in tune, the
SNR of ``mix_at_snr``, and the spread of ``random_beat``."""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest
import scipy.signal

from inference.audio.beats import (
    PARTS,
    SCALES,
    STYLES,
    make_beat,
    make_groove,
    mix_at_snr,
    random_beat,
)

SR = 16_000
HOP = 128  # onset envelope hop: 8 ms, so that a 4 % tempo error is several lags
STYLE_BPM = {"boombap": (70, 100), "trap": (120, 160), "lofi": (65, 90), "drill": (130, 150)}


def _band_fraction(x: np.ndarray, lo: float, hi: float) -> float:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / SR)
    return float(power[(freqs >= lo) & (freqs <= hi)].sum() / power.sum())


def _active_power(x: np.ndarray) -> float:
    """10 ms frames within 30 dB of the loudest, computed here independently of the module."""
    frames = x[: x.size // 160 * 160].astype(np.float64).reshape(-1, 160)
    energy = (frames**2).mean(axis=1)
    return float(energy[10 * np.log10(energy + 1e-30) >= 10 * np.log10(energy.max()) - 30].mean())


@pytest.mark.parametrize("style", STYLES)
def test_length_dtype_level_and_no_clipping(style):
    beat = make_beat(style, seconds=3.0, rng=0, parts=PARTS)
    assert beat.audio.dtype == np.float32 and beat.audio.shape == (3 * SR,)
    assert np.isfinite(beat.audio).all()
    assert 0.05 < float(np.sqrt(np.mean(beat.audio**2))) <= 0.1 + 1e-6
    assert float(np.max(np.abs(beat.audio))) <= 0.99
    quiet = np.sqrt(np.mean(beat.audio[: 3 * SR // 160 * 160].reshape(-1, 160) ** 2, axis=1))
    assert (quiet < 1e-4).mean() < 0.05  # no holes of silence in a full beat


def test_bars_set_the_length():
    beat = make_beat("boombap", bpm=90.0, rng=1, bars=2)
    assert beat.audio.size == round(2 * 4 * 60 / 90 * SR)
    assert len(beat.downbeats) == 2


def test_same_seed_same_beat_other_seed_other_beat():
    a = make_beat("trap", seconds=2.0, rng=5)
    b = make_beat("trap", seconds=2.0, rng=np.random.default_rng(5))
    c = make_beat("trap", seconds=2.0, rng=6)
    assert np.array_equal(a.audio, b.audio) and a.bpm == b.bpm and a.key == b.key
    assert not np.allclose(a.audio, c.audio, atol=1e-3)


def test_beat_times_are_the_quarter_note_grid():
    beat = make_beat("lofi", bpm=84.0, seconds=5.0, rng=2, swing=0.5)
    assert beat.beat_times[0] == 0.0 and beat.beat_times[-1] < 5.0
    assert len(beat.beat_times) == int(np.ceil(5.0 / (60 / 84)))
    np.testing.assert_allclose(np.diff(beat.beat_times), 60 / 84, rtol=1e-9)
    np.testing.assert_array_equal(beat.downbeats, beat.beat_times[::4])


def test_swing_delays_only_the_off_beat_sixteenths():
    groove = make_groove("boombap", bpm=60.0, seconds=4.0, rng=0, swing=0.4)
    assert groove.at(0.5) == SR // 2  # an 8th: on time
    assert groove.at(0.25) == round((0.25 + 0.4 / 2 / 4) * SR)  # a 16th: late by 0.2 of one
    straight = dataclasses.replace(groove, swing=0.0)
    assert straight.at(0.75) == round(0.75 * SR)


def _flux(x: np.ndarray) -> np.ndarray:
    """Spectral flux (rectified rise of log magnitude, averaged over bins), one per HOP."""
    _, _, z = scipy.signal.stft(x, fs=SR, nperseg=512, noverlap=512 - HOP, boundary=None)
    magnitude = np.log1p(100 * np.abs(z))
    return np.maximum(np.diff(magnitude, axis=1), 0.0).mean(axis=0)


def _tempo(beat) -> float:
    """librosa's tempo estimate (autocorrelation of the flux, with its tempo prior)."""
    return float(librosa.feature.tempo(onset_envelope=_flux(beat.audio), sr=SR, hop_length=HOP)[0])


def test_drum_tempo_is_heard_at_the_written_bpm_or_its_half_or_double():
    heard = []
    for style in STYLES:
        for seed in (0, 1):
            beat = make_beat(style, seconds=10.0, rng=seed, parts={"drums"})
            ratio = _tempo(beat) / beat.bpm
            heard.append(min(abs(ratio / m - 1) for m in (0.5, 1.0, 2.0)) < 0.04)
    assert sum(heard) >= 7, heard


def test_drum_onsets_fall_on_the_beat_grid():
    beat = make_beat("boombap", bpm=90.0, seconds=10.0, rng=3, parts={"drums"}, swing=0.0)
    env = _flux(beat.audio)

    def strength(times: np.ndarray) -> float:
        frames = np.round(times * SR / HOP).astype(int)
        frames = frames[frames + 2 < env.size]
        return float(np.mean([env[f - 1 : f + 3].max() for f in frames[1:]]))

    on_grid = strength(beat.beat_times)
    assert on_grid > 2 * strength(beat.beat_times + 60 / 90 / 3)  # a triplet off the grid
    assert on_grid > 2 * strength(beat.beat_times + 60 / 90 * 0.37)


@pytest.mark.parametrize(("part", "timbre"), [("chords", "saw"), ("chords", "organ"),
                                              ("chords", "keys"), ("melody", "pluck"),
                                              ("melody", "bell")])  # fmt: skip
def test_chords_and_melody_live_in_the_voice_band(part, timbre):
    for style in STYLES:
        beat = make_beat(style, seconds=4.0, rng=4, parts={part}, timbres={part: timbre})
        assert _band_fraction(beat.audio, 100, 900) > 0.75, (style, timbre)


@pytest.mark.parametrize("timbre", ["pluck", "bell"])
def test_melody_is_in_tune_in_key_and_in_range(timbre):
    in_scale = {(9 + step) % 12 for step in SCALES["minor"]}  # A minor
    beat = make_beat(
        "trap", seconds=6.0, rng=7, parts={"melody"}, tonic=9, scale="minor",
        timbres={"melody": timbre},
    )  # fmt: skip
    f0 = librosa.yin(beat.audio, fmin=150, fmax=1200, sr=SR, frame_length=1024, hop_length=256)
    rms = librosa.feature.rms(y=beat.audio, frame_length=1024, hop_length=256)[0]
    midi = librosa.hz_to_midi(f0)
    steady = np.zeros(midi.size, dtype=bool)
    steady[1:-1] = (np.abs(np.diff(midi))[1:] < 0.3) & (np.abs(np.diff(midi))[:-1] < 0.3)
    sel = steady & (rms > 0.1 * rms.max())
    assert sel.mean() > 0.2  # a pitch is held for a good part of the time
    assert np.all((f0[sel] > 195) & (f0[sel] < 900))
    cents = 100 * np.abs(midi[sel] - np.round(midi[sel]))  # off the equal-tempered grid
    assert np.median(cents) < 5 and np.percentile(cents, 90) < 10
    assert np.mean(np.isin(np.round(midi[sel]).astype(int) % 12, list(in_scale))) > 0.95


def test_808_fundamentals_are_low_with_audible_harmonics():
    beat = make_beat("trap", seconds=6.0, rng=8, parts={"808"})
    power = np.abs(np.fft.rfft(beat.audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(beat.audio.size, 1 / SR)
    assert 35 <= freqs[np.argmax(power)] <= 80
    above_200 = 10 * np.log10(_band_fraction(beat.audio, 200, 8000))
    assert -30 < above_200 < -6


def test_lead_sings_in_a_voice_range_with_vibrato():
    beat = make_beat("boombap", seconds=6.0, rng=9, parts={"lead"})
    f0 = librosa.yin(beat.audio, fmin=100, fmax=1000, sr=SR, frame_length=1024, hop_length=128)
    rms = librosa.feature.rms(y=beat.audio, frame_length=1024, hop_length=128)[0]
    sung = rms > 0.3 * rms.max()
    assert sung.mean() > 0.4 and np.median(f0[sung]) > 160 and np.percentile(f0[sung], 95) < 560
    midi = librosa.hz_to_midi(f0)
    wobble = 100 * (midi - scipy.signal.medfilt(midi, 51))[sung]  # cents off a 0.4 s median
    assert 4 < np.median(np.abs(wobble)) < 60  # vibrato: neither a flat synth nor a siren


def _voice_and_beat() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(2 * SR) / SR
    voice = 0.1 * np.sin(2 * np.pi * 220 * t)
    voice[SR:] = 0.0  # 1 s active, 1 s silent: the silence must not count
    beat = make_beat("drill", seconds=0.75, rng=10).audio  # shorter than the voice: looped
    return voice, beat


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0])
def test_mix_at_snr_sets_the_active_voice_to_beat_ratio(snr_db):
    voice, beat = _voice_and_beat()
    mixed = mix_at_snr(voice, beat, snr_db).astype(np.float64)
    under = mixed - voice
    measured = 10 * np.log10(_active_power(voice) / np.mean(under**2))
    assert abs(measured - snr_db) < 0.5
    assert np.corrcoef(under[: beat.size], beat)[0, 1] > 0.999  # from the start, unshifted
    np.testing.assert_allclose(under[beat.size : 2 * beat.size], under[: beat.size], atol=1e-6)


def test_mix_at_snr_random_offset_and_peak_limit_keep_the_ratio():
    voice, beat = _voice_and_beat()
    a, b = mix_at_snr(voice, beat, 3.0, rng=1), mix_at_snr(voice, beat, 3.0, rng=2)
    assert not np.allclose(a, b)
    for mixed in (a, b):
        measured = 10 * np.log10(_active_power(voice) / np.mean((mixed - voice) ** 2))
        assert abs(measured - 3.0) < 0.5
    loud = mix_at_snr(voice * 9.0, beat, 3.0, rng=1)
    assert float(np.max(np.abs(loud))) <= 0.99
    np.testing.assert_allclose(loud / np.abs(loud).max(), a / np.abs(a).max(), atol=1e-5)


def test_mix_at_snr_never_clips():
    rng = np.random.default_rng(11)
    for snr_db in (-20.0, 0.0, 30.0):
        voice = np.clip(rng.normal(0, 0.5, SR), -1, 1)
        beat = random_beat(rng, seconds=1.0).audio
        assert float(np.max(np.abs(mix_at_snr(voice, beat, snr_db, rng)))) <= 0.99


def test_random_beat_covers_styles_and_part_mixes():
    beats = [random_beat(seed, seconds=0.5) for seed in range(40)]
    assert {b.style for b in beats} == set(STYLES)
    assert any(b.parts <= {"drums", "808"} for b in beats)  # drums only
    assert any("drums" not in b.parts and "melody" in b.parts for b in beats)  # no drums
    assert any("lead" in b.parts for b in beats)
    assert len({b.key.split()[0] for b in beats}) >= 8  # many tonics
    for b in beats:
        lo, hi = STYLE_BPM[b.style]
        assert lo <= b.bpm <= hi and 0.0 <= b.swing <= 0.6
        assert b.audio.size == SR // 2 and float(np.max(np.abs(b.audio))) <= 0.99


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        make_beat("polka", seconds=1.0)
    with pytest.raises(ValueError):
        make_beat("trap", seconds=1.0, parts={"drums", "kazoo"})
    with pytest.raises(ValueError):
        make_beat("trap", seconds=1.0, swing=0.9)
    with pytest.raises(ValueError):
        mix_at_snr(np.zeros(SR), np.ones(SR), 0.0)
