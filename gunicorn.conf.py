"""gunicorn's settings beyond the README's command line. gunicorn reads this file from its working directory
by default (the systemd unit's WorkingDirectory is the project), so the command stays as the README gives it.

Python's collector, as set up here for a web worker. A worker keeps a large hall's results in memory (a
closed month's decoded standings, the live ones, kept pages): hundreds of thousands of objects, which every
full collection walked while all eight threads of the worker stood still, 80–290 ms about every five
seconds under load (bench/pages.py on PostgreSQL: 19 such pauses in 110 s; 4 of 68 pages over 200 ms at p99).
Once the app is loaded, what it loaded at import (modules, templates, the rulebook) is moved out of the
collector's sight (`gc.freeze`), and young collections run every 20,000 allocations instead of 700, so
objects that live through a request rarely reach the old generation: 2 full collections in the same run,
about 50 ms each; 68 of 68 pages within 200 ms.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_EVERY = 20_000


def post_worker_init(worker) -> None:  # noqa: ARG001 - gunicorn's hook signature
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 50, 100)
