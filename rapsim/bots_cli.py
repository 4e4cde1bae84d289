"""``rapsim discord`` and ``rapsim telegram``: run a chat bot until stopped."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from .common import EXIT_USER_ERROR


def _run_bot(platform: str, args: argparse.Namespace) -> int:
    """Run one chat bot until stopped; settings come from the environment and .env."""
    import asyncio

    from bot.errors import PoolClosed, SettingsError
    from bot.settings import install_token_filter, load_settings
    from bot.store.profiles import StoreError

    if not args.verbose:  # a bot is a service: say when it is ready, and what fails
        logging.getLogger().setLevel(logging.INFO)
    try:
        settings = load_settings(dotenv=args.env_file)
        install_token_filter(settings)
        if platform == "discord":
            settings.require_discord_token()
            from bot.discord_bot import run_discord

            asyncio.run(run_discord(settings, sync=args.sync))
        else:
            settings.require_telegram_token()
            from bot.telegram_bot import run_telegram

            asyncio.run(run_telegram(settings))
    except (SettingsError, StoreError, PoolClosed) as e:
        print(f"rapsim: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


def cmd_discord(args: argparse.Namespace) -> int:
    return _run_bot("discord", args)


def cmd_telegram(args: argparse.Namespace) -> int:
    return _run_bot("telegram", args)


def add_parsers(sub: Any) -> None:
    for name, func in (("discord", cmd_discord), ("telegram", cmd_telegram)):
        p = sub.add_parser(
            name, help=f"run the {name.title()} bot (settings: environment and .env)"
        )
        p.add_argument(
            "--env-file", default=".env", metavar="FILE", help="settings file (default: .env)"
        )
        if name == "discord":
            p.add_argument(
                "--sync",
                action="store_true",
                help="register the slash commands with Discord once, at this start",
            )
        p.set_defaults(func=func)
