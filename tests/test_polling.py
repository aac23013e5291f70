"""The background poller behind the progress bar and the memory sampler (no sleeping: the
test waits on events the action sets, with a generous bound only as a failure guard)."""
from __future__ import annotations

import threading

import pytest

from bigfruits.polling import every

GUARD_S = 30.0  # only reached when the poller is broken


def test_action_runs_periodically_in_the_background_then_once_more_at_the_end():
    """Protects the poller: the action runs repeatedly on a background thread while the block
    runs, and exactly once more on the caller's thread when the block ends."""
    calls = []
    three = threading.Event()

    def action() -> None:
        calls.append(threading.current_thread())
        if len(calls) >= 3:
            three.set()

    with every(0.001, action):
        assert three.wait(GUARD_S), "the action did not run three times in the background"
    caller = threading.current_thread()
    background = calls[:-1]
    assert len(background) >= 3 and caller not in background
    assert len(set(background)) == 1  # one poller thread
    assert calls[-1] is caller  # the final call, after the poller stopped
    assert not background[0].is_alive()  # stopped and joined when the block ended


def test_the_final_call_happens_even_when_the_block_raises():
    """Protects the last update when the work fails: the final call still happens, on the
    caller's thread, and the error goes through."""
    calls = []
    with pytest.raises(KeyError):
        with every(3600, lambda: calls.append(threading.current_thread())):
            raise KeyError("boom")
    assert calls == [threading.current_thread()]
