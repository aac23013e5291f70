"""A progress bar of images processed: Spark tasks add to an accumulator; a driver thread shows
it with tqdm (it moves as tasks finish)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Optional

from bigfruits.polling import every


@contextmanager
def image_progress(spark: Any, total: int, enabled: bool = True) -> Iterator[Optional[Any]]:
    """Yields the accumulator to pass to the UDF (``None`` when disabled)."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    counter = spark.sparkContext.accumulator(0)
    bar = tqdm(total=total, unit="img", desc="featurize", dynamic_ncols=True, mininterval=1.0)

    def follow() -> None:
        done = min(counter.value, total) - bar.n
        if done > 0:  # redraw only on news: step logs and CI logs stay short
            bar.update(done)

    try:
        with every(0.5, follow):
            yield counter
    finally:
        bar.close()
