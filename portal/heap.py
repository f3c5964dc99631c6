"""The garbage collector's setting for the long-running processes (daphne and the worker).

CPython's cyclic collector walks every tracked object in a full (generation 2) collection, and in a Django
process that is mostly what lives as long as the process: Django, the models, the URLconf, ~100,000 objects.
Once a process has loaded everything, `settle()` moves what is there to the permanent generation (gc.freeze):
full collections no longer walk it. Measured under socket chat load (concurrency 100, 8,000 turns): daphne's
time in the collector fell from 1.4-1.5 s to 1.1-1.2 s, with no change in memory. Garbage cycles are still
collected; only the objects that existed at startup are exempt.

Tried and not kept: also raising generation 0's threshold (CPython's 700) to 10,000 or 50,000 cut CPU per turn
by ~10 %, but daphne's RSS then sat ~40 MB higher and kept creeping over 80,000 requests (README, Benchmarks).
Most of that was cyclic garbage: every HTTP request was a reference cycle until portal/asgi_http.py and
portal/async_middleware.py broke them. Tried again after that: no measurable gain, so still not kept.
"""
from __future__ import annotations

import gc


def settle(young_threshold: int | None = None) -> None:
    """Call once the process has imported and set up everything it will use for its whole life.

    `young_threshold` (settings.GC_YOUNG_THRESHOLD) replaces generation 0's threshold; the older generations keep
    theirs, so a full collection still follows every hundred young ones.
    """
    gc.collect()
    gc.freeze()
    if young_threshold is not None:
        gc.set_threshold(young_threshold, *gc.get_threshold()[1:])
