"""Shared hypothesis settings for the fuzz tests: CI replays, scripts/fuzz explores.

CI gates every landing, so it must not fail on an input no one has seen before: by default the fuzz tests run
derandomized (the same generated inputs every run, plus each test's @example cases -- each a fault an exploring
run once found). `scripts/fuzz` runs them with fresh random inputs and many more examples to find new faults;
whatever it finds becomes a fix and an @example, and so part of what CI replays.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("FUZZ_PROFILE", "ci"))

# Multiplies every fuzz test's example count (scripts/fuzz raises it).
SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
