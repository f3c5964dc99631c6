"""portal/heap.py: long-running processes stop walking their startup objects in every full collection."""
import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

from portal import heap

ROOT = Path(__file__).resolve().parents[2]


def test_settle_exempts_what_exists_and_still_collects_later_cycles():
    thresholds = gc.get_threshold()
    try:
        heap.settle()
        assert gc.get_freeze_count() > 10_000  # Django, the models and this test run's modules
        assert gc.get_threshold() == thresholds  # see heap.py: a higher threshold cost memory

        class Node:
            pass

        cycle = Node()
        cycle.itself = cycle
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None, "a garbage cycle made after settle() must still be collected"
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_settle_can_raise_only_the_young_generations_threshold():
    thresholds = gc.get_threshold()
    try:
        heap.settle(10_000)
        assert gc.get_threshold() == (10_000, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_daphnes_entry_point_settles_the_heap_once_everything_is_loaded():
    env = {**os.environ, "SECRET_KEY": "x", "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1",
           "DJANGO_SETTINGS_MODULE": "portal.settings"}
    probe = "import gc, portal.asgi; print(gc.get_freeze_count(), len(gc.get_objects(generation=2)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    frozen, oldest = map(int, out.stdout.split())
    assert frozen > 50_000 and oldest < frozen / 100  # what full collections would walk: almost nothing
