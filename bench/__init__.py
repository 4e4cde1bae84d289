"""Benchmarks: scripts that measure and print figures (``python -m bench.<name>``), never
timed tests. Accuracy under degraded notes (``accuracy``, ``conditions``), heads and the
augmentation study (``heads``), resemblance for voices left out of the catalogue
(``resemblance``), latency and memory (``latency``), build speed, bot load, the broker
round trip (``broker_compare``, ``canned``), practice charts; ``table`` prints their JSON
as the tables of docs/.

Nothing in the product imports this package; it reuses the product's public names.
"""
