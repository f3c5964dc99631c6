"""The garbage collector's setting for the long-running processes (daphne and the worker).

CPython's cyclic collector walks every tracked object in a full (generation 2) collection, and in a Django
process that is mostly what lives as long as the process: Django, the models, the URLconf, ~100,000 objects.
Once a process has loaded everything, `settle()` moves what is there to the permanent generation (gc.freeze):
full collections no longer walk it. Measured under socket chat load (concurrency 100, 8,000 turns): daphne's
time in the collector fell from 1.4-1.5 s to 1.1-1.2 s, with no change in memory. Garbage cycles are still
collected; only the objects that existed at startup are exempt.

Generation 0's threshold stays CPython's 700 by default (settings.GC_YOUNG_THRESHOLD changes it). Raised to 10,000
or 50,000 it once cut CPU per turn by ~10 %, but daphne's RSS then sat ~40 MB higher and kept creeping over 80,000
requests (docs/benchmarks.md): cyclic garbage, since every HTTP request was a reference cycle until
portal/asgi_http.py and portal/async_middleware.py broke them. Measured again once those were gone, with
bench/memory_soak.py for an hour each way side by side (428,000 chat turns each): daphne flat either way, the
worker ~2 MB higher with 10,000; and with this code on uvloop three A/B pairs at HTTP concurrency 100 showed no
throughput difference beyond the machine's noise. So not raised.
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
