"""The reconnect schedule: exponential backoff with full jitter, capped, never giving up by itself."""
from __future__ import annotations

from collections.abc import Iterator

import backoff


def reconnect_delays(min_delay: float, max_delay: float) -> Iterator[float]:
    """Delays before each reconnect attempt: the first well under a second, growing to `max_delay`.

    Full jitter (a uniform draw below the exponential value) keeps many workers that lost the same broker
    from reconnecting in lockstep; the floor of `min_delay / 2` keeps a dead broker from being hammered.
    """
    ceilings = backoff.expo(base=2, factor=min_delay, max_value=max_delay)
    next(ceilings)  # backoff's wait generators yield None first (they are primed with send())
    for ceiling in ceilings:
        yield max(min_delay / 2, backoff.full_jitter(ceiling))
