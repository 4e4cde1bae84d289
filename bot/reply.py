"""What the service hands back to a platform adapter for every request: one
:class:`Reply`, text and an optional image. Wording lives in :mod:`bot.replies` and
:mod:`bot.practice.replies`; this module only holds the shape, so that the service and
the practice desk both answer with it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Reply"]


@dataclass(frozen=True)
class Reply:
    """One answer: text (Markdown-free), an optional PNG, and the top matches shown."""

    text: str
    image_png: bytes | None = None
    ok: bool = True  # False: the member's input or a limit stopped it (the text says why)
    matches: tuple[tuple[str, float], ...] = ()  # (artist, score) best first, when analysed
    target: tuple[str, float, int] | None = None  # (artist, score, rank) of the target

    @property
    def image_name(self) -> str:
        return "rapsim.png"
