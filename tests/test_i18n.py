"""Korean and English: the catalogue is complete and current, numbers and dates follow
the language, and Korean replies, images and charts never miss a glyph.

The image and chart tests need a font with Hangul (Debian's fonts-noto-cjk, which
scripts/setup.sh installs); without one they are skipped, and the fallback test checks
that a Korean image is then drawn in English instead of with missing glyphs.
"""

from __future__ import annotations

import gettext
import re
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import i18n
from bot import replies
from bot.jobs import Analysis, MatchOut, StyleLine, Voice
from bot.practice import replies as practice_replies
from bot.store.history import Forgotten, Standing
from i18n.fonts import hangul_font

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "i18n" / "locales"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
needs_hangul_font = pytest.mark.skipif(
    hangul_font(False) is None, reason="no Hangul font (apt-get install fonts-noto-cjk)"
)


def _po(language: str):
    with open(LOCALES / language / "LC_MESSAGES" / "rapsim.po", "rb") as f:
        return read_po(f)


def _ids(catalog) -> set:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


# ---- the catalogue ---------------------------------------------------------------------
def test_every_sentence_is_translated_with_the_same_fields():
    ko = _po("ko")
    fields = re.compile(r"\{(\w*)[^{}]*\}")
    assert len(_ids(ko)) > 150
    for m in ko:
        if not m.id:
            continue
        assert "fuzzy" not in m.flags, m.id
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        for s in strings:
            assert s, f"untranslated: {ids[0]!r}"
            assert set(fields.findall(s)) == set(fields.findall(ids[-1])), (ids[0], s)


def test_catalogue_holds_exactly_the_sentences_of_the_source_and_the_mo_is_compiled():
    method_map = [(f"{d}/**.py", "python") for d in ("bot", "inference", "i18n")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    with open(LOCALES / "rapsim.pot", "rb") as f:
        pot = _ids(read_po(f))
    stale = "run scripts/i18n.sh, translate, run it again"
    assert found == pot, f"{stale}: new {found - pot}, gone {pot - found}"
    assert _ids(_po("ko")) == pot, stale
    with open(LOCALES / "ko" / "LC_MESSAGES" / "rapsim.mo", "rb") as f:
        mo = gettext.GNUTranslations(f)
    for m in _po("ko"):
        if m.id and isinstance(m.id, str):
            assert mo.gettext(m.id) == m.string, f"{stale}: {m.id!r}"


def test_language_choice_and_numbers():
    assert i18n.language_for("ko") == "ko" == i18n.language_for("ko-KR", "en")
    assert i18n.language_for("ko_KR") == "ko" and i18n.language_for("en-US", "ko") == "en"
    assert i18n.language_for(None, "", "ko") == "ko" and i18n.language_for() == "en"
    assert i18n.language_for("ko", forced="en") == "en"
    with pytest.raises(ValueError):
        i18n.language_for(forced="fr")
    assert i18n.quantity(3.14, "{value} syll/s", "ko", 1) == "초당 3.1음절"
    assert i18n.quantity(3.14, "{value} syll/s", "en", 1) == "3.1 syll/s"
    assert i18n.quantity(0.254, "{value}", "ko", as_percent=True) == "25%"
    assert i18n.quantity(float("nan"), "{value} Hz", "ko") == "측정 불가"
    assert i18n.number(12345.6, "en", 1) == "12,345.6"
    moment = datetime(2026, 11, 30, 12)
    assert i18n.month_day(moment, "en") == "Nov 30"
    assert i18n.month_day(moment, "ko") == "11월 30일"
    assert i18n.say("Tempo", "ko") == "템포" and i18n.say("not a message id", "ko") == (
        "not a message id"
    )
    note = i18n.Text("only the first {minutes} min were read", minutes="5")
    assert note == "only the first 5 min were read" and i18n.say(note, "ko") == (
        "앞부분 5분만 읽었어요"
    )


def test_settings_force_a_language():
    from bot.errors import SettingsError
    from bot.settings import load_settings

    assert load_settings({"RAPSIM_LANGUAGE": "KO"}, dotenv=None).language == "ko"
    assert load_settings({}, dotenv=None).language == ""
    with pytest.raises(SettingsError, match="RAPSIM_LANGUAGE"):
        load_settings({"RAPSIM_LANGUAGE": "fr"}, dotenv=None)
    assert load_settings({"RAPSIM_HISTORY_DAYS": "14"}, dotenv=None).history_days == 14


def test_style_values_in_english_are_the_inference_formats():
    from inference import STYLE_DISPLAY, format_style_value, style_label, style_value

    for name, (label, _fmt, lo, hi) in STYLE_DISPLAY.items():
        assert style_label(name, "en") == label
        for value in np.linspace(lo, hi, 7):
            assert style_value(name, float(value), "en") == format_style_value(name, value)
        assert HANGUL.search(style_label(name, "ko"))


# ---- a Korean reply ----------------------------------------------------------------------
def _analysis() -> Analysis:
    matches = (
        MatchOut("Alpha", 70.2, False, meaning="closer than most"),
        MatchOut("Bravo", 61, False),
    )
    lines = (StyleLine("syllable_rate", "플로우", 3.1, 4.6, "초당 3.1음절", "초당 4.6음절", 7.0),)
    voice = Voice(np.zeros(4, np.float32), (0.0,) * 8, np.zeros((64, 1), np.uint8), "x")
    return Analysis(matches, lines, voice, b"", 30.0, 25.0, ("앞부분 5분만 읽었어요",),
                    target=matches[1], target_rank=2)  # fmt: skip


def test_korean_reply_is_korean_from_the_target_line_to_the_notes():
    result = _analysis()
    lead = practice_replies.target_line(result.matches[1], 2, 3, Standing(54, 64, 2), "ko")
    assert (
        lead == "목표 Bravo: 61점 (지난 테이크보다 +7, 최고 64), 아티스트 3명 중 2번째로 닮았어요."
    )
    english = practice_replies.target_line(result.matches[1], 2, 3, Standing(54, 64, 2), "en")
    assert english == (
        "Target Bravo: 61 (+7 since your last take, best 64), your #2 closest of 3 artists."
    )
    text = replies.analysis("민수", result, "ko", lead)
    assert text.startswith(lead + "\n민수님과 가장 닮은 아티스트는 Alpha: 70/100")
    assert "Bravo와(과) 비교하면:" in text and "더 닮으려면" in text
    latin_words = re.findall(r"[A-Za-z]{4,}", text)
    assert set(latin_words) <= {"Alpha", "Bravo", "closer", "than", "most"}, latin_words
    gone = replies.forgotten(Forgotten({"g1": 2}, takes=3, target=True, shares=1), "ko")
    assert "테이크 3개" in gone and "리더보드" in gone and HANGUL.search(gone)


# ---- images: every character drawn has a glyph in the font it is drawn with --------------
@pytest.fixture
def drawn(monkeypatch) -> list[tuple[str, str]]:
    """(text, font file) of every text Pillow draws."""
    from PIL import ImageDraw

    calls: list[tuple[str, str]] = []
    original = ImageDraw.ImageDraw.text

    def record(self, xy, text, fill=None, font=None, *args, **kwargs):
        calls.append((str(text), font.path))
        return original(self, xy, text, fill, font, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", record)
    return calls


def _missing(calls: list[tuple[str, str]]) -> list[tuple[str, str]]:
    from matplotlib.ft2font import FT2Font

    charmaps = {path: set(FT2Font(path).get_charmap()) for _, path in calls}
    return [(c, path) for text, path in calls for c in text if ord(c) not in charmaps[path]]


def _render_korean_images():
    from inference.picture import image
    from inference.types import Match, StyleProfile

    mel = np.random.default_rng(0).integers(0, 255, (64, 1500), dtype=np.uint8)
    style = StyleProfile(120, 3.1, 150, 5, -20, 10, 2000, 0.2)
    gap = StyleProfile(92, 4.6, 120, 9, -14, 16, float("nan"), 0.1)
    matches = [Match("Alpha", 70, 0.5), Match("브라보 Bravo", 61, 0.4, demo=True)]
    target = image.TargetView(matches[1], 2, 3)
    a = image.render_analysis(
        mel, style, matches, None, gap, member_label="민수 🎤", language="ko", target=target
    )
    b = image.render_comparison("민수", mel, style, "Bob", mel, gap, 71.0, language="ko")
    return a, b


@needs_hangul_font
def test_korean_images_draw_every_character_with_a_font_that_has_it(drawn):
    a, b = _render_korean_images()
    assert a.startswith(b"\x89PNG") and b.startswith(b"\x89PNG")
    texts = "".join(t for t, _ in drawn)
    for word in ("스타일", "템포", "닮은 정도", "(목표)", "민수", "브라보", "30초", "초당"):
        assert word in texts, word
    assert "🎤" not in texts  # no font here has it: left out, never a box
    assert "Style" not in texts and "Resemblance" not in texts
    assert drawn and not _missing(drawn), _missing(drawn)[:5]


def test_without_a_hangul_font_korean_images_are_drawn_in_english(drawn, monkeypatch, caplog):
    from inference.picture import fonts as image_fonts

    latin = image_fonts.glyphs(False)
    monkeypatch.setattr(image_fonts, "glyphs", lambda cjk: frozenset() if cjk else latin)
    image_fonts._warn_once.cache_clear()
    _render_korean_images()
    texts = "".join(t for t, _ in drawn)
    assert "Style" in texts and "Resemblance (0-100)" in texts and not HANGUL.search(texts)
    assert "need a Hangul font" in caplog.text
    assert not _missing(drawn)


# ---- charts: matplotlib's missing-glyph warning is a failure -----------------------------
def _chart(artist: str, takes: int = 12):
    from bot.jobs import StyleFeature
    from bot.practice.progress import Progress, Track

    rng = np.random.default_rng(1)
    times = tuple(1_790_000_000 + i * 40_000.0 for i in range(takes))
    scores = tuple(float(40 + 2 * i + rng.normal(0, 3)) for i in range(takes))
    flow = StyleFeature("syllable_rate", "Flow (syllable rate)", "{value} syll/s", 1, False, 1, 8)
    pause = StyleFeature("pause_ratio", "Pauses", "{value}", 0, True, 0.0, 0.8)
    tracks = (
        Track(flow, tuple(3 + rng.normal(0, 0.2, takes)), 4.6),
        Track(pause, tuple(0.3 + rng.normal(0, 0.03, takes)), 0.15),
    )
    return Progress(artist, times, scores, tracks)


@needs_hangul_font
@pytest.mark.parametrize("language", ["ko", "en"])
def test_progress_chart_has_every_glyph(language):
    from PIL import Image

    from bot.practice.charts import render_progress

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing")
        png = render_progress(_chart("켄드릭 Kendrick 🎤"), language)
    image = Image.open(__import__("io").BytesIO(png))
    assert image.format == "PNG" and image.width == 800
