"""A progress bar of images processed: Spark tasks add to an accumulator; a driver thread shows
it with tqdm (it moves as tasks finish)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional


@contextmanager
def image_progress(spark: Any, total: int, enabled: bool = True) -> Iterator[Optional[Any]]:
    """Yields the accumulator to pass to the UDF (``None`` when disabled)."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    counter = spark.sparkContext.accumulator(0)
    stop = threading.Event()
    bar = tqdm(total=total, unit="img", desc="featurize", dynamic_ncols=True)

    def follow() -> None:
        while not stop.wait(0.5):
            bar.update(min(counter.value, total) - bar.n)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield counter
    finally:
        stop.set()
        thread.join()
        bar.update(min(counter.value, total) - bar.n)
        bar.close()
