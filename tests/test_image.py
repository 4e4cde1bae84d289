"""Tests for inference.picture.image: the stored uint8 mel arrays and the rendered PNGs."""

from __future__ import annotations

import io
from dataclasses import replace

import librosa
import numpy as np
import pytest
from PIL import Image

from inference.constants import (
    IMAGE_DB_RANGE,
    IMAGE_FRAMES,
    IMAGE_HOP_LENGTH,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
)
from inference.picture.fonts import image_language
from inference.picture.image import mel_image, render_analysis, render_comparison, warmup
from inference.picture.rhythm import (
    FAR_COLOUR,
    MAX_BARS,
    MID_COLOUR,
    NEAR_COLOUR,
    rhythm_height,
)
from inference.picture.sheet import GAP, HEADER_H, SCORE_ROW_H, SPECS_H, STYLES_H
from inference.types import Match, Rhythm, StyleProfile, Syllable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 500 * 1024
WIDTH = 1080


def tone(seconds: float, amplitude: float, hz: float = 1000.0, sr: int = SAMPLE_RATE):
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def noise(seconds: float, amplitude: float = 0.05, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amplitude * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def nan_style() -> StyleProfile:
    return StyleProfile(*([float("nan")] * len(StyleProfile.feature_names())))


STYLE = StyleProfile(92.0, 4.3, 148.0, 7.2, -21.0, 14.0, 1800.0, 0.25)
OTHER_STYLE = StyleProfile(130.0, 6.1, 110.0, 3.5, -15.0, 9.0, 2600.0, 0.1)


def matches(n: int) -> list[Match]:
    return [Match(f"Artist {i}", 90.0 - 15 * i, 0.8 - 0.1 * i, demo=i == 2) for i in range(n)]


def decode_png(png: bytes) -> Image.Image:
    """Checks the bytes are a PNG within the size budget and returns the decoded image."""
    assert isinstance(png, bytes)
    assert png[:8] == PNG_SIGNATURE
    assert len(png) < MAX_PNG_BYTES
    img = Image.open(io.BytesIO(png))
    img.load()
    assert img.format == "PNG"
    return img


# --------------------------------------------------------------------------- mel_image


def test_mel_image_shape_and_dtype():
    mel = mel_image(noise(2.0))
    assert mel.dtype == np.uint8
    assert mel.shape == (N_MELS, 1 + 2 * SAMPLE_RATE // IMAGE_HOP_LENGTH)


def test_mel_image_caps_at_image_frames():
    assert mel_image(noise(40.0)).shape == (N_MELS, IMAGE_FRAMES)


def test_mel_image_silence_is_floor():
    assert mel_image(np.zeros(SAMPLE_RATE, dtype=np.float32)).max() == 0


def test_full_scale_sine_lands_near_the_top():
    mel = mel_image(tone(1.0, 1.0))
    assert 240 <= mel.max() <= 255


def test_louder_signal_gives_higher_values_on_a_fixed_scale():
    quiet, loud = mel_image(tone(1.0, 0.01)), mel_image(tone(1.0, 0.1))
    band = int(np.argmax(loud[:, 10]))
    # 20 dB louder is 20 / IMAGE_DB_RANGE of the 0..255 range higher.
    expected = 20.0 / IMAGE_DB_RANGE * 255
    assert abs(float(loud[band, 10:-10].mean()) - quiet[band, 10:-10].mean() - expected) < 2
    assert loud.mean() > quiet.mean()


def test_scale_does_not_depend_on_the_rest_of_the_recording():
    quiet = tone(2.0, 0.01)
    alone = mel_image(quiet)
    with_loud_part = mel_image(np.concatenate([quiet, tone(2.0, 0.9, hz=300.0)]))
    np.testing.assert_array_equal(with_loud_part[:, 10:90], alone[:, 10:90])


def test_mel_image_matches_librosa_melspectrogram():
    wav = noise(3.0, amplitude=0.1) + tone(3.0, 0.3, hz=440.0)
    power = librosa.feature.melspectrogram(
        y=wav,
        sr=SAMPLE_RATE,
        n_fft=N_FFT,
        hop_length=IMAGE_HOP_LENGTH,
        n_mels=N_MELS,
        norm=None,
        center=True,
        pad_mode="constant",
        power=2.0,
    )
    ref = (np.hanning(N_FFT + 1)[:-1].sum() / 2) ** 2
    db = 10 * np.log10(np.maximum(power, 1e-30) / ref)
    expected = np.clip(np.rint((db + IMAGE_DB_RANGE) * 255 / IMAGE_DB_RANGE), 0, 255)
    assert np.abs(mel_image(wav).astype(int) - expected).max() <= 1


def test_mel_image_resamples_other_rates():
    mel_8k = mel_image(tone(2.0, 0.5, hz=500.0, sr=8000), sr=8000)
    mel_16k = mel_image(tone(2.0, 0.5, hz=500.0))
    assert mel_8k.shape == mel_16k.shape
    assert np.argmax(mel_8k[:, 50]) == np.argmax(mel_16k[:, 50])


def test_mel_image_rescales_integer_pcm():
    wav = tone(1.0, 0.25)
    pcm = np.rint(wav * 32767).astype(np.int16)
    assert np.abs(mel_image(pcm).astype(int) - mel_image(wav)).max() <= 1


def test_mel_image_rejects_multichannel():
    with pytest.raises(ValueError):
        mel_image(np.zeros((2, SAMPLE_RATE), dtype=np.float32))


def test_mel_image_empty_input():
    assert mel_image(np.zeros(0, dtype=np.float32)).shape == (N_MELS, 0)


# --------------------------------------------------------------------------- rendering


@pytest.fixture(scope="module")
def mels() -> tuple[np.ndarray, np.ndarray]:
    return mel_image(noise(12.0)), mel_image(tone(30.0, 0.3, hz=220.0) + noise(30.0, 0.01))


def test_render_analysis_returns_portrait_png(mels):
    img = decode_png(render_analysis(mels[0], STYLE, matches(5), mels[1], OTHER_STYLE))
    assert img.width == WIDTH
    assert img.height > img.width


@pytest.mark.parametrize("n_matches", [0, 1, 5])
def test_render_analysis_match_counts(mels, n_matches):
    img = decode_png(render_analysis(mels[0], STYLE, matches(n_matches), mels[1], STYLE))
    assert img.width == WIDTH


def test_render_analysis_grows_with_matches(mels):
    one = decode_png(render_analysis(mels[0], STYLE, matches(1), mels[1], STYLE))
    five = decode_png(render_analysis(mels[0], STYLE, matches(5), mels[1], STYLE))
    assert five.height > one.height


def test_render_analysis_without_reference(mels):
    png = render_analysis(mels[0], STYLE, matches(3), None, None, member_label="DJ Test")
    decode_png(png)


def test_render_analysis_with_nan_styles(mels):
    decode_png(render_analysis(mels[0], nan_style(), matches(2), mels[1], nan_style()))


def test_render_analysis_long_and_odd_names(mels):
    names = [
        "A" * 300,
        "$uicideboy$",  # would be TeX to a careless matplotlib text call
        "Name\nwith\tcontrol   whitespace",
        "MF DOOM feat. Madlib, Freddie Gibbs, Danny Brown, Earl Sweatshirt",
        "",
        "🔥Emoji Name🔥",  # no glyph in the bundled font
        "日本語",
    ]
    found = [Match(name, 50.0, 0.1, demo=True) for name in names]
    png = render_analysis(mels[0], STYLE, found, mels[1], STYLE, member_label="W" * 200)
    assert decode_png(png).width == WIDTH


def test_render_analysis_pads_and_crops_arrays():
    short = np.full((N_MELS, 10), 200, dtype=np.uint8)
    long = np.full((N_MELS, IMAGE_FRAMES + 700), 100, dtype=np.uint8)
    decode_png(render_analysis(short, STYLE, matches(1), long, STYLE))


def test_render_analysis_rejects_wrong_shape():
    with pytest.raises(ValueError):
        render_analysis(np.zeros((N_MELS + 1, 100), np.uint8), STYLE, matches(1), None, None)


def test_spectrogram_colours_follow_the_data():
    """All-255 arrays must show the colormap's top colour; all-0 arrays must not."""
    top = np.array([252, 253, 191])  # magma at 1.0

    def distance_to_top(mel: np.ndarray) -> float:
        png = render_comparison("a", mel, STYLE, "b", mel, STYLE, 50.0)
        rgb = np.asarray(decode_png(png).convert("RGB")).reshape(-1, 3).astype(int)
        return float(np.abs(rgb - top).sum(axis=1).min())

    assert distance_to_top(np.full((N_MELS, 500), 255, dtype=np.uint8)) < 12
    assert distance_to_top(np.zeros((N_MELS, 500), dtype=np.uint8)) > 60


def test_render_comparison_returns_png(mels):
    img = decode_png(render_comparison("Alice", mels[0], STYLE, "Bob", mels[1], OTHER_STYLE, 73.2))
    assert img.width == WIDTH


@pytest.mark.parametrize("score", [0.0, 100.0, 140.0, -5.0, float("nan")])
def test_render_comparison_odd_scores_and_nan_styles(mels, score):
    decode_png(render_comparison("A" * 80, mels[0], nan_style(), "", mels[1], STYLE, score))


def test_worst_case_png_stays_under_budget():
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 256, (N_MELS, IMAGE_FRAMES), dtype=np.uint8) for _ in range(2))
    decode_png(render_analysis(a, STYLE, matches(10), b, OTHER_STYLE))
    decode_png(render_comparison("a", a, STYLE, "b", b, OTHER_STYLE, 50.0))


def test_warmup_runs():
    warmup()


# --------------------------------------------------------------------------- rhythm


def rhythm(
    bars: int = 3,
    *,
    grid: str = "beat",
    per_bar: tuple[int, ...] = (0, 2, 4, 6, 8, 11, 12, 14),
    offsets: tuple[float, ...] = (-75.0, -40.0, -10.0, 0.0, 20.0, 45.0, 70.0, float("nan")),
    bar_offset: float = 42.0,
) -> Rhythm:
    """A note on a 92 BPM grid: ``per_bar`` slots in each of ``bars`` bars, deviations
    cycling through ``offsets`` (every colour, early and late, and a nan)."""
    beat_s = 60.0 / 92.0
    syllables = tuple(
        Syllable(b * 4 * beat_s + k * beat_s / 4, b, k, offsets[i % len(offsets)])
        for b in range(bars)
        for i, k in enumerate(per_bar)
    )
    return Rhythm(
        grid=grid,
        bpm=92.0,
        beat_s=beat_s,
        downbeat_s=0.2,
        swing=0.5,
        offset_ms=40.0,
        tightness_ms=22.0,
        on_grid_share=0.6,
        syllables_per_beat=2.0,
        bar_density_change=1.0,
        rests=(0.1, 0.1, 0.2, 0.6),
        tempo_drift_pct=0.0,
        bar_offsets_ms=tuple(bar_offset + 5 * b for b in range(bars)),
        syllables=syllables,
    )


def test_rhythm_section_grows_the_image(mels):
    plain = decode_png(render_analysis(mels[0], STYLE, matches(3), mels[1], STYLE))
    timed = decode_png(
        render_analysis(mels[0], STYLE, matches(3), mels[1], STYLE, rhythm=rhythm(3))
    )
    assert timed.width == WIDTH
    assert timed.height == plain.height + GAP + rhythm_height(rhythm(3))
    assert rhythm_height(rhythm(5)) > rhythm_height(rhythm(3)) > 0


def test_rhythm_none_keeps_the_image_as_it_was(mels):
    """No rhythm (None or no syllables) draws exactly the image of before: same bytes."""
    args = (mels[0], STYLE, matches(3), mels[1], STYLE)
    plain = render_analysis(*args)
    # The layout's height without the section: header, spectrograms, styles, 3 scores.
    height = HEADER_H + SPECS_H + GAP + STYLES_H + GAP + 70 + 3 * SCORE_ROW_H + 20
    assert decode_png(plain).height == height
    assert render_analysis(*args, rhythm=None) == plain
    empty = replace(rhythm(4), syllables=())
    assert rhythm_height(empty) == 0
    assert render_analysis(*args, rhythm=empty) == plain


def test_rhythm_dots_show_every_colour(mels):
    png = render_analysis(mels[0], STYLE, matches(1), mels[1], STYLE, rhythm=rhythm(2))
    rgb = np.asarray(decode_png(png).convert("RGB")).reshape(-1, 3).astype(int)
    for colour in (NEAR_COLOUR, MID_COLOUR, FAR_COLOUR):
        want = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(rgb - want).sum(axis=1) < 12).sum() > 100, colour


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("grid", ["beat", "own pulse"])
def test_rhythm_renders_in_both_languages(mels, language, grid):
    r = rhythm(MAX_BARS + 3, grid=grid)  # more bars than shown: the rest are summarised
    png = render_analysis(mels[0], STYLE, matches(2), None, None, language=language, rhythm=r)
    plain = render_analysis(mels[0], STYLE, matches(2), None, None, language=language)
    assert decode_png(png).height == decode_png(plain).height + GAP + rhythm_height(r)
    if language != "en" and image_language(language) == language:  # a Hangul font is here
        assert png != render_analysis(mels[0], STYLE, matches(2), None, None, rhythm=r)


def test_rhythm_with_nan_and_odd_values_does_not_crash(mels):
    nan = float("nan")
    odd = (
        Syllable(0.1, 0, 0, nan),
        Syllable(0.2, 0, 15, 500.0),  # beyond half a 16th: kept inside the row
        Syllable(0.3, 0, 19, -500.0),  # a slot out of range
        Syllable(0.4, 13, 3, 10.0),  # a bar beyond bar_offsets_ms
        Syllable(0.5, -1, 3, 10.0),  # a bar before the first: not drawn
    )
    r = replace(rhythm(2), syllables=odd, bar_offsets_ms=(nan, nan), bpm=nan, beat_s=nan)
    r = replace(r, offset_ms=nan, tightness_ms=nan, swing=nan)
    for grid in ("beat", "own pulse"):
        png = render_analysis(mels[0], STYLE, matches(1), None, None, rhythm=replace(r, grid=grid))
        assert decode_png(png).width == WIDTH
    summary = replace(rhythm(MAX_BARS + 1), bar_offsets_ms=(nan,) * (MAX_BARS + 1))
    decode_png(render_analysis(mels[0], STYLE, matches(1), None, None, rhythm=summary))
