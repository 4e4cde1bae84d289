"""Bot settings from the environment and an optional ``.env`` file (python-dotenv).

The environment wins over ``.env``. Every key is documented in ``.env.example``. Values
are validated once, at start, and a bad one is a :class:`SettingsError` naming the key;
tokens are never part of a message, a ``repr`` or a log line (see :class:`TokenFilter`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SettingsError

# A Discord bot token is three base64url parts: user id, timestamp, HMAC.
_DISCORD_TOKEN = re.compile(r"^[A-Za-z0-9_-]{17,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
# A Telegram bot token is "<bot id>:<35 url-safe characters>".
_TELEGRAM_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "rapsim"


@dataclass(frozen=True)
class Settings:
    discord_token: str = field(default="", repr=False)
    telegram_token: str = field(default="", repr=False)
    telegram_api_url: str = ""  # a self-hosted Bot API server; "" is the public one
    catalog: str = ""  # catalogue folder; "" is the bundled demo catalogue
    encoder: str = "resemblyzer"
    separator: str = ""  # the voice/beat separator: "" the bundled one, "demucs:<folder>"
    data_dir: Path = field(default_factory=_default_data_dir)
    workers: int = 2
    broker_url: str = field(default="", repr=False)  # redis://...: the distributed pool
    queue_size: int = 16
    job_timeout_s: float = 60.0
    max_upload_mb: float = 25.0
    max_note_seconds: float = 300.0
    notes_per_minute: int = 3
    top_k: int = 5
    retention_days: float = 30.0
    profiles_per_member: int = 5
    history_days: float = 90.0  # practice history (/progress, /leaderboard)
    language: str = ""  # "en" or "ko" for everyone; "": each member's own locale
    discord_channels: frozenset[int] = frozenset()
    discord_owner_ids: frozenset[int] = frozenset()

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "profiles.sqlite3"

    def require_discord_token(self) -> str:
        return _check_token("DISCORD_TOKEN", self.discord_token, _DISCORD_TOKEN)

    def require_telegram_token(self) -> str:
        return _check_token("TELEGRAM_TOKEN", self.telegram_token, _TELEGRAM_TOKEN)

    def secrets(self) -> tuple[str, ...]:
        password = _url_password(self.broker_url)
        return tuple(t for t in (self.discord_token, self.telegram_token, password) if t)


def _check_token(key: str, value: str, pattern: re.Pattern[str]) -> str:
    if not value:
        raise SettingsError(f"{key} is not set (put it in the environment or in .env)")
    if not pattern.match(value):
        raise SettingsError(f"{key} is malformed (check that it was copied whole)")
    return value


def load_settings(
    env: Mapping[str, str] | None = None, dotenv: str | os.PathLike[str] | None = ".env"
) -> Settings:
    """Settings from ``env`` (default: os.environ) over the ``dotenv`` file, if it exists."""
    values: dict[str, str] = {}
    if dotenv is not None and Path(dotenv).is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    values.update(os.environ if env is None else env)
    get = _Reader(values)
    return Settings(
        discord_token=get.text("DISCORD_TOKEN"),
        telegram_token=get.text("TELEGRAM_TOKEN"),
        telegram_api_url=get.url("TELEGRAM_API_URL"),
        catalog=get.text("RAPSIM_CATALOG"),
        encoder=get.text("RAPSIM_ENCODER") or "resemblyzer",
        separator=get.text("RAPSIM_SEPARATOR"),
        data_dir=Path(get.text("RAPSIM_DATA_DIR")).expanduser()
        if get.text("RAPSIM_DATA_DIR")
        else _default_data_dir(),
        workers=get.integer("RAPSIM_WORKERS", 2, 1, 64),
        broker_url=get.broker_url("RAPSIM_BROKER_URL"),
        queue_size=get.integer("RAPSIM_QUEUE_SIZE", 16, 1, 10_000),
        job_timeout_s=get.number("RAPSIM_JOB_TIMEOUT", 60.0, 1.0, 3600.0),
        max_upload_mb=get.number("RAPSIM_MAX_UPLOAD_MB", 25.0, 0.1, 2000.0),
        max_note_seconds=get.number("RAPSIM_MAX_NOTE_SECONDS", 300.0, 1.0, 3600.0),
        notes_per_minute=get.integer("RAPSIM_NOTES_PER_MINUTE", 3, 1, 1000),
        top_k=get.integer("RAPSIM_TOP_K", 5, 1, 10),
        retention_days=get.number("RAPSIM_RETENTION_DAYS", 30.0, 0.01, 3650.0),
        profiles_per_member=get.integer("RAPSIM_PROFILES_PER_MEMBER", 5, 1, 100),
        history_days=get.number("RAPSIM_HISTORY_DAYS", 90.0, 1.0, 3650.0),
        language=get.choice("RAPSIM_LANGUAGE", ("en", "ko")),
        discord_channels=get.ids("DISCORD_CHANNELS"),
        discord_owner_ids=get.ids("DISCORD_OWNER_IDS"),
    )


def _url_password(url: str) -> str:
    """The password in a broker URL (redis://user:pw@host), to keep it out of logs."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).password or "" if url else ""
    except ValueError:
        return ""


class _Reader:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def text(self, key: str) -> str:
        return str(self.values.get(key, "")).strip()

    def number(self, key: str, default: float, lo: float, hi: float) -> float:
        raw = self.text(key)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{key} must be a number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise SettingsError(f"{key} must be within {lo:g}..{hi:g}, got {raw}")
        return value

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        value = self.number(key, default, lo, hi)
        if value != int(value):
            raise SettingsError(f"{key} must be a whole number, got {self.text(key)}")
        return int(value)

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        raw = self.text(key).lower()
        if raw and raw not in options:
            raise SettingsError(
                f"{key} must be one of {', '.join(options)} (or empty), got {raw!r}"
            )
        return raw

    def url(self, key: str) -> str:
        raw = self.text(key).rstrip("/")
        if raw and not re.match(r"^https?://[^/\s]+", raw):
            raise SettingsError(f"{key} must be an http(s) URL, got {raw!r}")
        return raw

    def broker_url(self, key: str) -> str:
        raw = self.text(key)
        if raw and not re.match(r"^(rediss?|unix)://\S+$", raw):
            raise SettingsError(f"{key} must be a redis://, rediss:// or unix:// URL")
        return raw

    def ids(self, key: str) -> frozenset[int]:
        raw = self.text(key)
        parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
        bad = [p for p in parts if not p.isdigit()]
        if bad:
            raise SettingsError(f"{key} must be comma-separated numeric ids, got {bad[0]!r}")
        return frozenset(int(p) for p in parts)


class TokenFilter(logging.Filter):
    """Replaces every secret in a log record's message and arguments with '***'."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean, exc = self._scrub(text), self._scrub(record.exc_text or "")
        if clean != text or exc != (record.exc_text or ""):
            record.msg, record.args = clean, None
            record.exc_text = exc or None
        return True

    def _scrub(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return text


def install_token_filter(settings: Settings) -> None:
    """Scrub the tokens from every handler of the root logger (call after logging setup)."""
    flt = TokenFilter(settings.secrets())
    for handler in logging.getLogger().handlers:
        handler.addFilter(flt)
