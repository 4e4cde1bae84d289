"""Korean descriptions of the slash commands, from the i18n catalogue.

discord.py passes every command and option description through the tree's translator
when commands are synced; Discord then shows each member the one for their client's
language, and the Korean name of the "Analyze voice" message menu. Slash command
names and choices stay as they are (members type them).
"""

from __future__ import annotations

import discord
from discord import app_commands

from i18n import say

_TRANSLATED = (
    app_commands.TranslationContextLocation.command_description,
    app_commands.TranslationContextLocation.group_description,
    app_commands.TranslationContextLocation.parameter_description,
)


class CatalogueTranslator(app_commands.Translator):
    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        menu = isinstance(context.data, app_commands.ContextMenu)
        if str(locale) != "ko" or not (context.location in _TRANSLATED or menu):
            return None
        text = say(string.message, "ko")
        return text if text != string.message else None
