"""Pausing Python's cyclic garbage collector around work that makes many objects at once."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(*, collect_after: bool = False) -> Iterator[None]:
    """Run the block with the cyclic collector off; reference counting still frees what is
    not in a cycle. Left running, the collector rescans every live object again and again
    as the block makes more. ``collect_after``: one pass over the youngest generation at the
    end, for blocks whose objects form cycles (they were never collected, so all are still
    the youngest)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
            if collect_after:
                gc.collect(0)
