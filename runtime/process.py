"""Settings of the Python process itself that every entry point applies at start-up."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Collect garbage less often than CPython's default of every 700 allocations.

    An ingest cycle allocates hundreds of thousands of short-lived objects beside a large
    set of long-lived ones (airports, the latest states); with the default thresholds the
    collector rescans those again and again, which measured 20 % of a cycle. Objects made
    at start-up are frozen out of collection altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)
