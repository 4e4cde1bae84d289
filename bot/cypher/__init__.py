"""Cypher rounds: members take turns sending verses in one chat or channel, each verse is
answered like any note, and the round ends with a summary that goes into each member's
practice history.

On Telegram (bots cannot join voice chats) and in Discord text channels a round is
``/cypher start`` … voice notes … ``/cypher stop``; a round also ends by itself after a
quiet time with no verse, and one room runs one round at a time. Sending a note during
the round is the opt-in: only members who send one appear in the summary.

Rooms, top to bottom:

- ``desk``: :class:`~bot.cypher.desk.CypherDesk`, the rounds of one bot process over its
  :class:`~bot.service.RapService`: start, stop, the verses' fair queue to the pool and
  the busy notice, the summary.
- ``replies``: every sentence of a round, English and Korean (the i18n catalogue).
- ``rounds``: the pure parts: a round's state and quiet time, the round-robin queue,
  the summary's figures.
- ``voice/``: hearing a Discord voice channel, cut into verses (its own docstring).

For audio that does not come as a chat message (a verse cut from a Discord voice
channel): ``await desk.verse(member, audio_bytes, filename, room)``, with ``room`` the
id of the channel whose round it belongs to, returns the :class:`~bot.reply.Reply` a
note gets (text and image) after the verse's turn in the queue; its history row is
marked with the round. Open the round with ``desk.start(member, room, post, language)``
(``post``: an async callable that says a text in that room) and end it with
``desk.stop(platform, room, language)``.

It keeps no audio (a verse is bytes in memory until its analysis), runs no inference
and knows no platform: the adapters (``bot.telegram_bot``, ``bot.discord_bot``) call it.
"""

from .desk import CypherDesk

__all__ = ["CypherDesk"]
