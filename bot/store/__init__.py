"""What the bot keeps of members, in one SQLite file: voice profiles for /compare
(``profiles``), the practice history, targets and leaderboard opt-ins (``history``), the
cypher rounds the takes were verses of (``rounds``), and the schema with its in-place
upgrades (``schema``).

It never stores audio and computes nothing about voices; it knows members and plain job
results (``bot.member``, ``bot.jobs``), not the service, the pool or the platforms.
"""
