"""Practice over time: the service's practice desk (``desk``: /target, /progress,
/leaderboard, /share, and the history row and target line of every note), its words
(``replies``), the numbers of a progress chart (``progress``) and the chart itself
(``charts``, matplotlib, drawn in a thread).

It runs no inference and keeps nothing itself: scores arrive with each note's analysis,
rows are kept by ``bot.store``. It does not know the platforms or the pool.
"""
