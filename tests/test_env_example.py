"""Every setting the bot reads is documented in .env.example, and the file loads as is."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_documents_every_key_and_loads():
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", example, flags=re.M))
    read = set(re.findall(r'"([A-Z][A-Z_]+)"', (ROOT / "bot/settings.py").read_text()))
    read.discard("XDG_DATA_HOME")  # the standard base folder, not ours
    assert read <= documented, f"undocumented: {sorted(read - documented)}"
    for key in documented:  # each key has a comment right above it (or its group's)
        assert re.search(rf"#[^\n]*\n(?:[A-Z_]+=[^\n]*\n)*{key}=", example), key
    settings = load_settings({}, dotenv=ROOT / ".env.example")
    assert settings.workers == 2 and settings.retention_days == 30
