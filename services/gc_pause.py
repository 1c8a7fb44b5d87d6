"""Python's cyclic garbage collector paused while a bulk job builds its rows (an import's 100,000 rows, a
year's detail tables of every unit).

Those jobs make a million small objects that all stay alive until the job ends and hold no cycles: each
collection walks them again and frees nothing (a third of an import's reading and checking, a third of the
year export's time, measured by bench/imports.py). Objects are still freed as soon as nothing holds them;
only cycles wait for the collector, which runs again once every paused job has ended.

The collector is the process's: in the web process (no Redis: jobs run in a thread) a request that makes
cycles meanwhile has them collected when the job ends. Jobs may overlap; the last one to end resumes it,
and a collector someone else had turned off stays off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

_lock = threading.Lock()
_depth = 0  # paused jobs running now
_resume = False  # whether the collector was on when the first of them began

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def paused() -> Iterator[None]:
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def pausing(function: Callable[P, R]) -> Callable[P, R]:
    """`function` run with the collector paused (a decorator)."""

    @wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused():
            return function(*args, **kwargs)

    return run
