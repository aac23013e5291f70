"""What a run says while it runs: one line per stage with its time, what a long stage is doing
(unless ``--no-progress``), each stage's time under its key in pipeline order, nothing after a
failure; lines that still reach the terminal while TensorFlow's import captures stderr; and
the summary line, which names failures only when there are some."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from itertools import islice

import pytest

from bigfruits.pipeline.progress import StageLog, summary

LINE = re.compile(r"^bigfruits: +\d+\.\d s  (.*)$")


def lines(err: str) -> list:
    return [line for line in err.splitlines() if line]


@pytest.mark.pure
def test_each_stage_ends_with_its_time_and_what_it_did(capsys):
    with StageLog(progress=False) as stages:
        with stages.stage("list", "listing") as stage:
            stage.done = "100 images in 10 classes"
        with stages.stage("featurize", "featurizing") as stage:
            time.sleep(0.2)
            stage.done = lambda seconds: f"featurized 100 images ({100 / seconds:.0f} images/s)"
        with stages.stage("reuse", "planning --reuse", shown=False):
            pass
        with stages.stage(None, "writing report.html"):
            pass
    said = lines(capsys.readouterr().err)
    done = [LINE.match(line).group(1) for line in said]
    assert done[0] == "100 images in 10 classes" and done[2] == "writing report.html"
    rate = re.fullmatch(r"featurized 100 images \((\d+) images/s\)", done[1])
    assert 100 <= int(rate.group(1)) <= 500  # 100 images in a bit more than 0.2 s
    assert float(said[1].split()[1]) >= 0.2 and len(said) == 3
    assert list(stages.timings) == ["list", "featurize", "reuse"]  # in order; None not kept
    assert stages.timings["featurize"] >= 0.2


@pytest.mark.pure
def test_a_stage_that_fails_prints_no_end_line_and_records_no_time(capsys):
    with StageLog(progress=True) as stages:
        with pytest.raises(ValueError):
            with stages.stage("pca_fit", "fitting the PCA", announce_after=None):
                raise ValueError("boom")
    assert capsys.readouterr().err == ""
    assert stages.timings == {}


def wait_for(capsys, text: str, seconds: float = 10.0) -> str:
    """What was printed so far, once ``text`` is in it (the announcement comes from a thread)."""
    seen = ""
    deadline = time.monotonic() + seconds
    while text not in seen and time.monotonic() < deadline:
        time.sleep(0.02)
        seen += capsys.readouterr().err
    return seen


@pytest.mark.pure
def test_a_long_stage_says_what_it_is_doing_a_quick_one_only_that_it_is_done(capsys):
    with StageLog(progress=True) as stages:
        with stages.stage("pca_fit", "fitting the PCA", announce_after=0.05):
            seen = wait_for(capsys, "fitting the PCA ...")
        with stages.stage("project", "projecting", announce_after=5.0):
            pass
        with stages.stage("spark_start", "starting Spark", announce_after=0):
            seen += capsys.readouterr().err
    seen += capsys.readouterr().err
    said = lines(seen)
    assert said[0] == "bigfruits: fitting the PCA ..."
    assert LINE.match(said[1]).group(1) == "fitting the PCA"
    assert LINE.match(said[2]).group(1) == "projecting"  # no announcement: it was quick
    assert said[3] == "bigfruits: starting Spark ..."  # at once, before the stage's work
    assert LINE.match(said[4]).group(1) == "starting Spark"
    assert len(said) == 5


@pytest.mark.pure
def test_a_long_stage_says_now_and_again_that_it_still_is(capsys):
    with StageLog(progress=True, heartbeat=0.1, steady=0.2) as stages:
        assert [round(at, 2) for at in islice(stages.announcements(0.05), 5)] == [
            0.05, 0.15, 0.25, 0.45, 0.85]
        with stages.stage("pca_fit", "fitting the PCA", announce_after=0.05):
            seen = ""
            deadline = time.monotonic() + 10
            while seen.count("still fitting the PCA") < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
                seen += capsys.readouterr().err
    said = lines(seen + capsys.readouterr().err)
    assert said[:3] == ["bigfruits: fitting the PCA ...", "bigfruits: still fitting the PCA (0 s) ...",
                        "bigfruits: still fitting the PCA (0 s) ..."]
    assert LINE.match(said[-1]).group(1) == "fitting the PCA"


@pytest.mark.pure
def test_announcements_come_every_3_s_for_a_minute_then_less_and_less_often():
    """Never silent for more than 3 s in a stage's first minute (the sample run's stages are
    all shorter); a stage of ten minutes says what it is doing some thirty times, not 200."""
    times = list(islice(StageLog(progress=False).announcements(1.0), 40))
    steady = [at for at in times if at <= 61.0]
    assert steady == [1.0 + 3 * i for i in range(21)]
    later = [b - a for a, b in zip(times[20:], times[21:])]
    assert later[:7] == [6.0, 12.0, 24.0, 48.0, 96.0, 192.0, 300.0] and set(later[7:]) == {300.0}
    assert 25 <= sum(1 for at in times if at <= 600) <= 30


@pytest.mark.pure
def test_no_progress_keeps_the_end_lines_only(capsys):
    with StageLog(progress=False) as stages:
        with stages.stage("spark_start", "starting Spark", announce_after=0):
            time.sleep(0.15)
        with stages.stage("pca_fit", "fitting the PCA", announce_after=0.01):
            time.sleep(0.15)
    said = lines(capsys.readouterr().err)
    assert [LINE.match(line).group(1) for line in said] == ["starting Spark", "fitting the PCA"]


CAPTURED = """
import os, sys, tempfile
from bigfruits.pipeline.progress import StageLog
with StageLog(progress=True) as stages:
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:  # what import_tensorflow does for a few seconds
        os.dup2(capture.fileno(), 2)
        with stages.stage("spark_start", "starting Spark", announce_after=0):
            pass
        os.dup2(saved, 2)
        capture.seek(0)
        print("captured:", capture.read().decode() or "nothing")
"""


def test_lines_reach_the_terminal_while_tensorflow_captures_stderr():
    """The model is prepared in a thread whose TensorFlow import points descriptor 2 at a
    capture; the Spark stage's lines printed meanwhile must not vanish into it."""
    done = subprocess.run([sys.executable, "-c", CAPTURED], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "captured: nothing"
    said = lines(done.stderr)
    assert said[0] == "bigfruits: starting Spark ..."
    assert LINE.match(said[1]).group(1) == "starting Spark"


def manifest(failed: int) -> dict:
    return {"images_ok": 100 - failed, "images_total": 100, "images_failed": failed, "k": 50,
            "variance_kept": 0.86024, "images_per_s": 24.46}


@pytest.mark.pure
def test_the_summary_names_failures_only_when_there_are_some():
    assert summary(manifest(0)) == ("100 of 100 images featurized, k=50 keeps 86.0% of the "
                                    "variance, 24.5 images/s.")
    assert summary(manifest(3)) == ("97 of 100 images featurized (3 failed, see errors/), k=50 "
                                    "keeps 86.0% of the variance, 24.5 images/s.")


@pytest.mark.pure
def test_the_bar_shows_the_time_when_no_image_finished_for_a_while(capsys, monkeypatch):
    """Images are counted as Spark tasks finish, so the bar can stand still for a while: it is
    drawn again (its elapsed time) rather than leaving the terminal silent. Spark stands in as
    an object whose accumulator is a plain counter: only ``.value`` is read here."""
    from types import SimpleNamespace

    from bigfruits.pipeline import progress

    monkeypatch.setattr(progress, "BAR_HEARTBEAT_S", 0.2)
    counter = SimpleNamespace(value=0)
    spark = SimpleNamespace(sparkContext=SimpleNamespace(accumulator=lambda start: counter))
    with progress.image_progress(spark, 10):
        time.sleep(1.3)  # nothing finishes: redrawn every 0.2 s (checked every 0.5 s)
        counter.value = 10
    drawn = re.split(r"[\r\n]+", capsys.readouterr().err)
    standing = [line for line in drawn if "| 0/10 [" in line]
    assert len(standing) >= 3, drawn  # first drawn, then twice while standing still
    assert any("10/10" in line for line in drawn)
