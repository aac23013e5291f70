"""The background poller behind the progress bar and the memory sampler."""
from __future__ import annotations

import threading
import time

from bigfruits.polling import every


def test_action_runs_periodically_then_once_more_at_the_end():
    calls = []
    with every(0.02, lambda: calls.append(threading.current_thread().name)):
        time.sleep(0.2)
        during = len(calls)
    assert during >= 3
    assert len(calls) == during + 1 or len(calls) == during + 2  # a tick may race the exit
    assert calls[-1] == threading.current_thread().name  # the final call is on the caller's thread


def test_the_final_call_happens_even_when_the_block_raises():
    calls = []
    try:
        with every(10, lambda: calls.append(1)):
            raise KeyError("boom")
    except KeyError:
        pass
    assert calls == [1]
