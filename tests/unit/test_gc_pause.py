"""services.gc_pause: the collector is off while any paused job runs, on again after the last, and left
off when it was off before."""

from __future__ import annotations

import gc
import threading

from services.gc_pause import paused, pausing


def test_nested_and_overlapping_jobs_resume_the_collector_once_all_have_ended():
    assert gc.isenabled()
    started, finish = threading.Event(), threading.Event()

    def other_job() -> None:
        with paused():
            started.set()
            finish.wait(5)

    with paused():
        assert not gc.isenabled()
        worker = threading.Thread(target=other_job)
        worker.start()
        started.wait(5)
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other job still runs
    finish.set()
    worker.join(5)
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off_and_errors_resume_it():
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()

    @pausing
    def fails() -> None:
        assert not gc.isenabled()
        raise ValueError("x")

    try:
        fails()
    except ValueError:
        pass
    assert gc.isenabled() and fails.__name__ == "fails"
