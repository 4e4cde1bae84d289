"""Process-wide thread settings for inference.

numpy's OpenBLAS starts one thread per core for every small matrix product; on a 2-core
machine with torch also running, that was measured 5x slower (64x257 @ 257x1500: 5.9 ms
with 2 BLAS threads, 1.2 ms with 1), and far worse with two worker processes. So BLAS
runs single-threaded and torch gets the threads the process is allowed (one per worker
in a pool, all cores for a lone CLI process).
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

_blas_limit: object | None = None  # threadpoolctl keeps the limit while this lives


def limit_threads(torch_threads: int | None = None) -> None:
    """BLAS to one thread; torch to ``torch_threads`` (default: the usable cores)."""
    global _blas_limit
    from threadpoolctl import threadpool_limits

    _blas_limit = threadpool_limits(1, user_api="blas")
    n = torch_threads or len(os.sched_getaffinity(0))
    try:
        import torch
    except ImportError:  # an encoder without torch: nothing more to set
        return
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    log.debug("threads: BLAS 1, torch %d", n)
