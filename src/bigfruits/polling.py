"""Run a small action periodically in a background thread while a block runs (a progress bar
following an accumulator, a memory sampler), and once more when the block ends."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def every(seconds: float, action: Callable[[], None]) -> Iterator[None]:
    done = threading.Event()

    def loop() -> None:
        while not done.wait(seconds):
            action()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        action()
