"""What a run shows while it runs, on stderr: one line per stage with its time, and a bar of
images processed during the featurize stage (Spark tasks add to an accumulator; a driver thread
shows it with tqdm, moving as tasks finish); and the summary it ends with (``summary``).

A stage prints ``bigfruits:   2.3 s  <what it did>`` when it ends. With progress on (the
default), a stage still running after ``ANNOUNCE_AFTER_S`` also says what it is doing when that
time is up, and then now and again that it still is, so the terminal is never silent for long
and a quick stage costs one line, not two; the bar is drawn again when it has not moved for a
few seconds.
``--no-progress`` (logs, scripts, tests) keeps the end lines, the run's account of itself, and
drops what only says "still working": the bar and the announcements."""
from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Union

from bigfruits.polling import every

#: a stage still running after this many seconds says what it is doing, then that it still is
#: every ``HEARTBEAT_S`` for its first ``STEADY_S``, then less and less often (the interval
#: doubling up to ``MAX_HEARTBEAT_S``)
ANNOUNCE_AFTER_S = 1.0
HEARTBEAT_S = 3.0
STEADY_S = 60.0
MAX_HEARTBEAT_S = 300.0
#: the featurize bar is drawn again (its elapsed time) when it has not moved for this long;
#: both leave room under 5 s for a thread that wakes late on a busy machine
BAR_HEARTBEAT_S = 3.0


@dataclass
class Stage:
    """One stage while it runs: ``done`` is the line it ends with, set by its body once it
    knows what it did (``doing`` stands in if the body sets nothing); a function of the
    stage's seconds when the line needs them (a rate)."""

    doing: str
    done: Union[str, Callable[[float], str]] = ""

    def line(self, seconds: float) -> str:
        done = self.done(seconds) if callable(self.done) else self.done
        return f"{seconds:5.1f} s  {done or self.doing}"


class StageLog:
    """Prints the stage lines and adds each stage's time to ``timings`` (by key, in the order
    the stages ran: the manifest's ``timings``).

    Lines go to a duplicate of file descriptor 2 taken when the log is opened: the model is
    prepared in a thread whose TensorFlow import points descriptor 2 at a capture for a few
    seconds (``featurize.model.import_tensorflow``), and a line printed meanwhile must still
    reach the terminal. Where ``sys.stderr`` is not descriptor 2 (a notebook), lines go to
    ``sys.stderr``."""

    def __init__(self, progress: bool = True, heartbeat: float = HEARTBEAT_S,
                 steady: float = STEADY_S) -> None:
        self.progress = progress
        self.heartbeat, self.steady = heartbeat, steady
        self.timings: Dict[str, float] = {}
        self._lock = threading.Lock()
        self._fd = _duplicate_stderr()

    def __enter__(self) -> "StageLog":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def announcements(self, first: float) -> Iterator[float]:
        """When a stage says what it is doing, in seconds from its start: at ``first``, then
        every ``heartbeat`` seconds for its first ``steady`` seconds, then each interval doubling up
        to ``MAX_HEARTBEAT_S`` (a stage of ten minutes says so some thirty times, not 200)."""
        yield first
        at, interval = first, self.heartbeat
        while True:
            at += interval
            yield at
            if at >= self.steady:
                interval = min(2 * interval, MAX_HEARTBEAT_S)

    def say(self, text: str) -> None:
        """One line ``bigfruits: <text>`` on stderr."""
        line = f"bigfruits: {text}\n"
        with self._lock:
            sys.stderr.flush()  # after what Python (tqdm, warnings) wrote before it
            if self._fd is None:
                sys.stderr.write(line)
                sys.stderr.flush()
            else:
                os.write(self._fd, line.encode("utf-8", "replace"))

    @contextmanager
    def stage(self, key: Optional[str], doing: str, shown: bool = True,
              announce_after: Optional[float] = ANNOUNCE_AFTER_S) -> Iterator[Stage]:
        """Time the block under ``key`` (``None``: not recorded); unless ``shown`` is false,
        print its end line, and (progress on) what it is doing once it has lasted
        ``announce_after`` seconds (``None``: never, e.g. a stage with its own bar; 0: at
        once), then that it still is (``announcements``)."""
        stage = Stage(doing)
        ended = threading.Event()
        clock = time.perf_counter()

        def announce(first: float) -> None:
            for index, at in enumerate(self.announcements(first)):
                if ended.wait(max(0.0, clock + at - time.perf_counter())):
                    return
                self.say(f"{doing} ..." if index == 0 else f"still {doing} ({at:.0f} s) ...")

        if shown and announce_after is not None and self.progress:
            threading.Thread(target=announce, args=(announce_after,), name="bigfruits-stage",
                             daemon=True).start()
        try:
            yield stage
        finally:
            ended.set()
        seconds = time.perf_counter() - clock
        if key is not None:
            self.timings[key] = self.timings.get(key, 0.0) + seconds
        if shown:
            self.say(stage.line(seconds))


def _duplicate_stderr() -> Optional[int]:
    try:
        if sys.stderr.fileno() == 2:
            return os.dup(2)
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor
        pass
    return None


@contextmanager
def image_progress(spark: Any, total: int, enabled: bool = True) -> Iterator[Optional[Any]]:
    """Yields the accumulator to pass to the UDF (``None`` when disabled)."""
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    counter = spark.sparkContext.accumulator(0)
    bar = tqdm(total=total, unit="img", desc="featurize", dynamic_ncols=True, mininterval=1.0)

    drawn = [time.monotonic()]

    def follow() -> None:
        done = min(counter.value, total) - bar.n
        if done > 0:  # redraw on news, or to show the time when there is none for a while
            bar.update(done)
        elif time.monotonic() - drawn[0] >= BAR_HEARTBEAT_S:
            bar.refresh()
        else:
            return
        drawn[0] = time.monotonic()

    try:
        with every(0.5, follow):
            yield counter
    finally:
        bar.close()


def summary(manifest: Dict[str, Any]) -> str:
    """The line a run ends with; failures are named only when there are some."""
    failed = manifest["images_failed"]
    failures = f" ({failed} failed, see errors/)" if failed else ""
    return (f"{manifest['images_ok']} of {manifest['images_total']} images featurized{failures}, "
            f"k={manifest['k']} keeps {manifest['variance_kept']:.1%} of the variance, "
            f"{manifest['images_per_s']:.1f} images/s.")
