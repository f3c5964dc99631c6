"""The reconnect schedule: steady, quick attempts through a short outage, then exponential backoff to a cap.

Most outages are short (a broker restart, a failover, a network blip), and users wait through them: retrying at a
steady `interval` (jittered, so many workers do not knock in lockstep) for the first `fast_period` seconds means
the first chat after the broker is back goes out within about one interval, while a broker that is down sees at
most 1/interval attempts per second from each worker. A broker that stays away longer is really down: from then on
the delays double with full jitter up to `max_delay`, so a long outage costs it almost nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

import backoff

JITTER = 0.2  # steady attempts come every interval ± 20 %


def reconnect_delays(
    interval: float,
    max_delay: float,
    fast_period: float = 60.0,
    *,
    clock: Callable[[], float] = time.monotonic,
    uniform: Callable[[float, float], float] = random.uniform,
) -> Iterator[float]:
    """Delays before each attempt of one outage, which began when the generator was created (`clock()` then)."""
    began = clock()
    while clock() - began < fast_period:
        yield uniform(interval * (1 - JITTER), interval * (1 + JITTER))
    ceilings = backoff.expo(base=2, factor=interval, max_value=max_delay)
    next(ceilings)  # backoff's wait generators yield None first (they are primed with send())
    for ceiling in ceilings:
        # Never below the steady interval: a long outage must not turn into faster knocking.
        yield max(interval, backoff.full_jitter(ceiling))
