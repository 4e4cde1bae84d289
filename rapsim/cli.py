"""``rapsim``: the command line. Parses arguments, sets up logging, runs a command: one
module per group (``analyze_cli``, ``catalog_cli``, ``kit``, ``worker_cli``, ``bots_cli``).

User mistakes (a bad file, a missing catalogue) print one line to stderr and exit 2 (1
when some of several files failed); unexpected errors keep their traceback. Heavy imports
(torch, librosa) happen only after the arguments are parsed, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from . import analyze_cli, bots_cli, catalog_cli, kit, worker_cli
from .common import EXIT_USER_ERROR


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rapsim", description="Which rappers do you sound like?")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = ap.add_subparsers(dest="command", required=True)
    for commands in (analyze_cli, catalog_cli, kit, worker_cli, bots_cli):
        commands.add_parsers(sub)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    # torch's OpenMP threads spin while they wait for each other: with other work on the
    # cores, one Resemblyzer embedding took 5-10 s instead of 0.3 s (2 threads, 2 busy
    # cores); waiting passively costs nothing measurable. Read when torch loads, below.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        # inference is imported only by the commands that need it (not by the bots)
        inference = sys.modules.get("inference")
        if inference is not None and isinstance(e, inference.RapsimError):
            print(f"rapsim: {e}", file=sys.stderr)
            return EXIT_USER_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
