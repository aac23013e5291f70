"""Peak resident memory of a process and all its children (the Spark JVM and its Python
workers), summed at each instant and sampled in a background thread while a measured step
runs: this process by default, or a command the benchmark started (``process``)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterator, Optional

import psutil

from bigfruits.polling import every

SAMPLE_SECONDS = 0.2


def _resident(process: psutil.Process) -> Dict[str, int]:
    """RSS of the Python driver, and of everything below it (JVM, Python workers)."""
    total = driver = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:  # exited between listing and reading
            continue
    return {"driver_python": driver, "all_processes": total}


@contextmanager
def peak_memory(process: Optional[psutil.Process] = None) -> Iterator[Dict[str, int]]:
    """``with peak_memory() as peak:`` -> ``peak`` holds the highest bytes seen per key."""
    process = process or psutil.Process()
    peak = _resident(process)

    def sample() -> None:
        try:
            for key, value in _resident(process).items():
                peak[key] = max(peak[key], value)
        except psutil.Error:  # the measured command has ended
            pass

    with every(SAMPLE_SECONDS, sample):
        yield peak
