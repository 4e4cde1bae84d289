"""Languages: which one a member gets, the sentences in it, and numbers, units and dates
written its way.

Sentences live in one gettext catalogue (domain ``rapsim``, ``i18n/locales``), extracted
from the source and compiled with Babel (``scripts/i18n.sh``); English is the source
language, so an English sentence is its own message id. Code marks a sentence with
``_ = translator(language).gettext; _("...")`` where it is said, or with :func:`N_` where
it is only defined, and says it later with :func:`say`. Numbers, units and dates go
through Babel's CLDR data (:func:`number`, :func:`percent`, :func:`month_day`); a unit
is part of its sentence's template ("{value} syll/s"), so each language places it.

Both layers use this package: the bot words its replies with it and the inference
workers their images and score phrases. It imports neither of them (and no torch, numpy
or matplotlib), so the bot process stays light. It does not choose fonts for drawing
(``i18n.fonts``); its only sentence is "n/a".
"""

from __future__ import annotations

import functools
import gettext
import logging
import math
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "N_",
    "Text",
    "language_for",
    "month_day",
    "number",
    "percent",
    "quantity",
    "say",
    "translator",
]

log = logging.getLogger(__name__)

DOMAIN = "rapsim"
LOCALE_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("en", "ko")  # English is the source language: it needs no catalogue
DEFAULT = "en"


def language_for(*locales: str | None, forced: str = "") -> str:
    """The language to answer in: ``forced`` (RAPSIM_LANGUAGE) if set, else the first
    known locale of ``locales`` ("ko", "ko-KR", "ko_KR" -> Korean; any other -> English)."""
    if forced:
        if forced not in LANGUAGES:
            raise ValueError(f"unknown language {forced!r}: use one of {', '.join(LANGUAGES)}")
        return forced
    for locale in locales:
        if locale:
            return "ko" if locale.replace("_", "-").split("-")[0].lower() == "ko" else "en"
    return DEFAULT


@functools.cache
def translator(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the message ids themselves).

    A language whose catalogue is missing answers in English and logs it once, so a
    broken install shows in the log instead of as a crash in front of a member.
    """
    if language == DEFAULT:
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, [language])
    except OSError:
        log.error("no %s catalogue in %s (run scripts/i18n.sh); answering in English",
                  language, LOCALE_DIR)  # fmt: skip
        return gettext.NullTranslations()


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue where it is defined; :func:`say` translates it."""
    return message


class Text(str):
    """A sentence made from a marked template and fields, readable as English at once and
    said again in another language by :func:`say` (the template is the message id).

    It is a ``str``, so code that only passes English along (the CLI, logs) needs nothing.
    """

    template: str
    fields: dict[str, Any]

    def __new__(cls, template: str, **fields: Any) -> Text:
        text = super().__new__(cls, template.format(**fields))
        text.template = template
        text.fields = fields
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_make_text, (self.template, self.fields))


def _make_text(template: str, fields: dict[str, Any]) -> Text:
    return Text(template, **fields)


def say(text: str, language: str) -> str:
    """``text`` in ``language``: a :class:`Text` or a marked message id (:func:`N_`);
    other text (a name, a message from elsewhere) comes back as it is."""
    translated = translator(language).gettext(getattr(text, "template", str(text)))
    fields = getattr(text, "fields", None)
    return translated.format(**fields) if fields else translated


# ---- numbers and dates (Babel, CLDR) ------------------------------------------------
def _pattern(digits: int, grouped: bool = True) -> str:
    return ("#,##0" if grouped else "0") + ("." + "0" * digits if digits > 0 else "")


def number(value: float, language: str, digits: int = 0, *, grouped: bool = True) -> str:
    """``value`` with ``digits`` decimals, grouped and signed the language's way."""
    from babel.numbers import format_decimal

    return format_decimal(value, format=_pattern(digits, grouped), locale=language)


def percent(fraction: float, language: str, digits: int = 0) -> str:
    """0.25 -> '25%' in the language's percent pattern."""
    from babel.numbers import format_percent

    return format_percent(fraction, format=_pattern(digits) + "%", locale=language)


def month_day(moment: datetime, language: str) -> str:
    """A date without the year, the language's way: 'Nov 30', '11월 30일'."""
    from babel.dates import format_skeleton

    return format_skeleton("MMMd", moment, locale=language)


def quantity(
    value: float, template: str, language: str, digits: int = 0, *, as_percent: bool = False
) -> str:
    """A measured value in its unit's template ("{value} syll/s" -> "3.1 syll/s",
    "3.1음절/초"); a fraction with ``as_percent``; "n/a" when not measured (nan)."""
    _ = translator(language).gettext
    if not math.isfinite(value):
        return _("n/a")
    shown = (
        percent(value, language, digits)
        if as_percent
        else number(value, language, digits, grouped=False)
    )
    return _(template).format(value=shown)
