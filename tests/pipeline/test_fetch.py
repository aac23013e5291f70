"""Reading ahead of the model (``fetch.fetch_ahead``) without Spark or a network: order kept,
every row answered, the caps on reads and bytes in flight held, a failed read an error string
(never an exception)."""
from __future__ import annotations

import threading
import time

import pytest

from bigfruits.pipeline import fetch
from bigfruits.pipeline.fetch import fetch_ahead, read_one

pytestmark = pytest.mark.pure


def test_local_reads_keep_order_and_answer_every_row(tmp_path):
    files = []
    for i in range(50):
        path = tmp_path / f"{i:02d}.jpg"
        path.write_bytes(bytes([i]) * (i + 1))
        files.append(("file:" + str(path), i + 1, ""))
    files.insert(10, ("file:" + str(tmp_path / "gone.jpg"), 5, ""))
    files.insert(20, ("file:" + str(tmp_path / "empty.jpg"), 0, ""))
    out = list(fetch_ahead(files, max_in_flight=8, max_bytes=100))
    assert [row for row, _ in out] == files
    by_name = {row[0].rsplit("/", 1)[1]: fetched for row, fetched in out}
    assert by_name["gone.jpg"][0] is None and "FileNotFoundError" in by_name["gone.jpg"][1]
    assert by_name["empty.jpg"] == (None, "empty file (0 bytes)")
    assert by_name["07.jpg"] == (bytes([7]) * 8, None)


def test_reads_in_flight_and_their_bytes_are_capped(monkeypatch):
    """Whatever the sizes, no more than ``max_in_flight`` reads and ``max_bytes`` listed bytes
    are taken from the rows and not yet consumed (one image bigger than the cap goes alone)."""
    pulled, consumed, exhausted = [], [], [False]
    monkeypatch.setattr(fetch, "read_one", lambda row, settings: (time.sleep(0.001) or b"x", None))
    sizes = [10, 70, 30, 200, 5, 5, 5, 90, 1, 1, 1, 1, 1, 1, 1, 1, 60, 60]

    def rows():
        for i, size in enumerate(sizes):
            pulled.append(size)
            yield (f"file:/{i}", size, "")
        exhausted[0] = True

    worst_count, worst_bytes = 0, 0
    for row, _ in fetch_ahead(rows(), max_in_flight=4, max_bytes=100):
        waiting = pulled[len(consumed):]
        # fetch_ahead pulls one row ahead: until the rows run out, the last pulled waits
        in_flight = waiting if exhausted[0] else waiting[:-1]
        worst_count = max(worst_count, len(in_flight))
        if len(in_flight) > 1:
            worst_bytes = max(worst_bytes, sum(in_flight))
        consumed.append(row)
    assert len(consumed) == len(sizes)
    assert worst_count <= 4 and worst_bytes <= 100


def test_reads_overlap(monkeypatch):
    """Slow reads run side by side: with 20 allowed in flight, more than 10 run at once."""
    busy, peak = [0], [0]
    lock = threading.Lock()

    def slow(row, settings):
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        time.sleep(0.05)
        with lock:
            busy[0] -= 1
        return b"x", None

    monkeypatch.setattr(fetch, "read_one", slow)
    assert len(list(fetch_ahead(((f"s3://b/{i}", 1, "") for i in range(40)), max_in_flight=20))) == 40
    assert peak[0] > 10


def test_a_failing_reader_is_an_error_string_not_an_exception(monkeypatch):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(fetch, "read_local", broken)
    assert read_one(("file:/x.jpg", 3, ""), None) == (None, "cannot read: RuntimeError: boom")


class ReadsInFlight:
    """A ``read_one`` that takes 20 ms and records, as each read starts, the listed bytes of the
    reads running at that moment: bytes in flight over time, row by row."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict = {}
        self.at_start: list = []  # (row index, bytes of the reads running, this one included)

    def __call__(self, row, settings):
        index = int(row[0].rsplit("/", 1)[1])
        with self.lock:
            self.running[index] = row[1]
            self.at_start.append((index, sum(self.running.values())))
        time.sleep(0.02)
        with self.lock:
            del self.running[index]
        return b"x" * row[1], None


def test_the_byte_budget_is_given_back_so_reading_ahead_goes_on(monkeypatch):
    """Protects read-ahead after the first ``max_bytes`` of listed bytes: each consumed read
    gives its bytes back, so the 60th image still has 4 reads in flight beside it, as the
    first did. A budget never given back turns read-ahead into one GET at a time after the
    first ``max_bytes`` (32 reads in flight -> 1 on S3), and nothing else would notice."""
    reads = ReadsInFlight()
    monkeypatch.setattr(fetch, "read_one", reads)
    rows = [(f"s3://b/{i}", 10, "") for i in range(64)]  # 640 listed bytes through a 40-byte budget
    out = list(fetch_ahead(rows, max_in_flight=8, max_bytes=40))
    assert [row for row, _ in out] == rows and all(fetched == (b"x" * 10, None) for _, fetched in out)
    assert max(running for _, running in reads.at_start) <= 40  # the budget holds
    later = [running for index, running in reads.at_start if index >= 8]  # past twice the budget
    assert len(later) == 56 and max(later) >= 30, reads.at_start  # 3-4 reads of 10 bytes at once


@pytest.mark.parametrize("form", ["file:{}", "file://{}", "{}"])
def test_every_local_path_form_is_read(tmp_path, form):
    """Hadoop's ``file:/a b/x.jpg`` (unencoded), ``file:///...`` and a plain path."""
    path = tmp_path / "a b" / "x.jpg"
    path.parent.mkdir()
    path.write_bytes(b"jpeg")
    assert fetch.read_local(form.format(path)) == b"jpeg"
    assert read_one((form.format(path), 4, ""), None) == (b"jpeg", None)


def test_a_local_read_that_fails_names_the_error_class_and_reason(tmp_path):
    gone = tmp_path / "gone.jpg"
    assert read_one((f"file:{gone}", 3, ""), None) == (
        None, "cannot read: FileNotFoundError: No such file or directory")
    folder = tmp_path / "a-folder.jpg"
    folder.mkdir()
    assert read_one((f"file:{folder}", 3, ""), None) == (None, "cannot read: IsADirectoryError: Is a directory")


def test_an_s3_read_goes_to_s3_with_default_settings_and_its_error_is_kept_as_is(monkeypatch):
    calls = []

    def get(path, size, stamp, settings):
        calls.append((path, size, stamp, settings))
        if path.endswith("bad.jpg"):
            raise OSError("vanished since it was listed (NoSuchKey, HTTP 404)")
        return b"bytes"

    monkeypatch.setattr(fetch, "get_object", get)
    for scheme in ("s3", "s3a", "s3n"):
        assert read_one((f"{scheme}://b/k.jpg", 5, "etag:e"), None) == (b"bytes", None)
    assert read_one(("s3://b/bad.jpg", 5, "etag:e"), None) == (None, "vanished since it was listed (NoSuchKey, HTTP 404)")
    assert {settings for *_, settings in calls} == {fetch.S3Settings()}
    assert calls[0][:3] == ("s3://b/k.jpg", 5, "etag:e")


def test_stopping_early_cancels_the_reads_not_yet_started(monkeypatch):
    """A consumer that stops (a failed batch, a cancelled task) leaves no queued reads behind."""
    started = []
    monkeypatch.setattr(fetch, "read_one", lambda row, settings: (started.append(row[0]), time.sleep(0.05))
                        and (b"x", None))
    reader = fetch_ahead(((f"s3://b/{i}", 1, "") for i in range(100)), max_in_flight=1)
    assert next(reader)[0][0] == "s3://b/0"
    reader.close()
    time.sleep(0.1)
    assert len(started) <= 2, started


def test_one_image_bigger_than_the_byte_cap_is_read_alone_and_nothing_is_skipped(monkeypatch):
    """A negative or huge listed size never stalls the reads: each is read, in order."""
    monkeypatch.setattr(fetch, "read_one", lambda row, settings: (b"x", None))
    rows = [("s3://b/a", 500, ""), ("s3://b/b", -3, ""), ("s3://b/c", 10, ""), ("s3://b/d", 500, "")]
    assert [row for row, _ in fetch_ahead(rows, max_in_flight=0, max_bytes=100)] == rows


def pulled_at_each_answer(monkeypatch, sizes, **caps):
    """How many rows ``fetch_ahead`` has taken from the rows (read or about to be) when it
    answers each one: how far it reads ahead, which the caps decide (reads answered at once)."""
    monkeypatch.setattr(fetch, "read_one", lambda row, settings: (b"x", None))
    pulled = []

    def rows():
        for i, size in enumerate(sizes):
            pulled.append(i)
            yield (f"s3://b/{i}", size, "")

    return [len(pulled) for _ in fetch_ahead(rows(), **caps)]


def test_reading_ahead_goes_exactly_as_far_as_the_byte_cap_allows(monkeypatch):
    """Protects the byte budget's arithmetic: reads whose listed bytes add up to the cap exactly
    all run (two of 10 under 20: the first answer comes with 2 in flight and the 3rd row
    taken); a 0-byte row (an empty file) costs nothing and gives nothing back."""
    assert pulled_at_each_answer(monkeypatch, [10] * 5, max_in_flight=8, max_bytes=20) == [3, 4, 5, 5, 5]
    # ten empty files and two of 10 bytes in flight; each 10 consumed lets the next one in
    assert pulled_at_each_answer(monkeypatch, [0] * 10 + [10] * 5, max_in_flight=16, max_bytes=20) == [
        13] * 11 + [14, 15, 15, 15]


def test_one_read_in_flight_when_asked_for_one_or_none(monkeypatch):
    for asked in (0, 1):
        assert pulled_at_each_answer(monkeypatch, [1] * 4, max_in_flight=asked) == [2, 3, 4, 4]


def test_no_rows_no_answers():
    assert list(fetch_ahead(iter([]))) == []


def test_reads_get_the_settings_and_run_in_named_threads(monkeypatch):
    """The workers' S3 settings reach every read; the reading threads are named for what they
    do (a thread dump of a stuck worker says which threads are ours)."""
    seen = []
    monkeypatch.setattr(fetch, "read_one",
                        lambda row, settings: seen.append((settings, threading.current_thread().name)) or (b"x", None))
    settings = fetch.S3Settings(region="eu-west-3")
    list(fetch_ahead([("s3://b/k", 1, "")] * 3, settings))
    assert [s for s, _ in seen] == [settings] * 3 and all(name.startswith("bigfruits-fetch") for _, name in seen)


@pytest.mark.parametrize("scheme", ["s3", "s3a", "s3n"])
def test_an_s3_reads_error_is_kept_as_is_for_every_s3_scheme(monkeypatch, scheme):
    def gone(*args):
        raise OSError("vanished since it was listed (NoSuchKey, HTTP 404)")

    monkeypatch.setattr(fetch, "get_object", gone)
    assert read_one((f"{scheme}://b/k.jpg", 5, "etag:e"), None) == (
        None, "vanished since it was listed (NoSuchKey, HTTP 404)")
