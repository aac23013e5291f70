"""Polling until something is done, with an injectable clock and sleep (tests never wait)."""
from __future__ import annotations

from typing import Any, Callable, Dict

from bigfruits.errors import AwsError


def wait_for(
    fetch: Callable[[], Dict[str, Any]],
    state_of: Callable[[Dict[str, Any]], str],
    done_states: tuple,
    what: str,
    timeout_s: float,
    interval_s: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    echo: Callable[[str], None],
) -> Dict[str, Any]:
    """Call ``fetch`` until its state is in ``done_states``; print each change of state.
    Returns the last answer; raises ``AwsError`` on timeout (the thing keeps going on AWS)."""
    start = clock()
    last_state = None
    while True:
        answer = fetch()
        state = state_of(answer)
        if state != last_state:
            echo(f"  {what}: {state} ({clock() - start:.0f}s)")
            last_state = state
        if state in done_states:
            return answer
        if clock() - start >= timeout_s:
            raise AwsError(
                f"gave up waiting for {what} after {timeout_s:.0f}s (still {state})",
                "check `bigfruits aws status`, or wait longer with --timeout",
            )
        sleep(interval_s)
