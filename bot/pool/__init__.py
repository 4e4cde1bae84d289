"""Where analysis runs, behind one interface (``local.InferencePool``: start, analyze,
compare, close over the plain jobs of ``bot.jobs``).

``local``: worker processes on this machine (the default). ``distributed``, ``broker``,
``wire``, ``broker_worker``: workers on any machine over Redis (taskiq), the jobs encoded
with msgpack (never pickle). ``worker`` and ``runners``: what runs inside a worker process,
the only code of the bot that imports ``inference`` (and so torch). ``catalog_id``: which
catalogue a worker serves.

It knows nothing of members, replies, storage or platforms.
"""
