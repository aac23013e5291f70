"""A class-data-sharing archive for the Spark JVM that bigfruits starts itself (local runs).

Starting Spark loads and verifies some 15,000 classes from its jars: seconds of every small
run on a laptop. The JVM can record the classes an application loaded into an archive when it
exits (``-XX:ArchiveClassesAtExit``) and map that archive at the next start
(``-XX:SharedArchiveFile``): JDK "Application Class Data Sharing", dynamic archives, Java 13+
(https://docs.oracle.com/en/java/javase/17/vm/class-data-sharing.html).

- The first local run records ``<cache>/jvm/spark-<key>.<id>.partial`` at the JVM's exit (the
  JVM outlives the Python process by the seconds the dump takes). ``key`` names what the
  archive depends on: where Spark's jars are, and the java executable and the jars themselves.
  Where matters: an archive records the class path it was made with, and a JVM started with
  the same jars from another folder (another virtual environment, a fresh clone) ignores it
  silently (measured: start-up 8.9 s without, 9.2 s with another folder's archive).
- A later run adopts a partial once nothing has written to it for ``SETTLE_SECONDS`` *and* a
  ``java -version`` that maps it with its checksum verified succeeds: a truncated archive aborts
  the JVM that maps it (measured: exit 134), so it is never handed to Spark; a failed check
  removes it (at worst one still being written: the next run records again).
- Runs with an adopted ``spark-<key>.jsa`` map it with ``-Xshare:auto`` (an archive the JVM
  cannot use is skipped, not fatal) and ``-XX:+VerifySharedSpaces`` (its checksum is checked).

Never under spark-submit or on EMR (there the JVM is not ours). ``BIGFRUITS_JVM_ARCHIVE=0``
turns it off; a cache folder that cannot be written only costs the seconds.
"""
from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import time
import uuid
from typing import List, Optional

from bigfruits.locations import cache_dir

ARCHIVE_ENV = "BIGFRUITS_JVM_ARCHIVE"
#: a partial written to more recently may still be being dumped (the dump writes continuously)
SETTLE_SECONDS = 5.0
#: another jars folder's archive unused for this long is removed (its environment is gone)
UNUSED_DAYS = 30
#: the JVM's own CDS warnings (e.g. classes from signed jars are not archived) are not the user's
QUIET = ["-Xlog:cds*=off"]
#: a JVM that aborts on a bad archive leaves no hs_err file or core dump behind
NO_CRASH_FILES = ["-XX:ErrorFile=/dev/null", "-XX:-CreateCoredumpOnCrash"]


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def archive_key(java: str, jars_dir: str) -> str:
    """``<where>-<what>``: where Spark's jars are (their folder), and what the archive holds:
    the JVM (path, size, time) and the jars (names, sizes)."""
    parts = []
    real = os.path.realpath(java)
    info = os.stat(real)
    parts.append(f"{real}:{info.st_size}:{info.st_mtime_ns}")
    for jar in sorted(os.listdir(jars_dir)):
        parts.append(f"{jar}:{os.path.getsize(os.path.join(jars_dir, jar))}")
    where, what = _digest(os.path.realpath(jars_dir), 8), _digest("\n".join(parts), 12)
    return f"{where}-{what}"


def usable(java: str, archive: str) -> bool:
    """True when a JVM maps ``archive`` and starts: it is complete and its checksum holds."""
    command = [java, f"-XX:SharedArchiveFile={archive}", "-Xshare:auto", "-XX:+VerifySharedSpaces",
               *QUIET, *NO_CRASH_FILES, "-version"]
    try:
        return subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _adopt(java: str, folder: str, key: str, final: str, now: float) -> None:
    """Rename the first settled, usable partial of ``key`` to ``final``; remove the others
    that have settled (usable or not), so one archive per key is kept."""
    for partial in sorted(glob.glob(os.path.join(folder, f"spark-{key}.*.partial"))):
        try:
            if now - os.path.getmtime(partial) < SETTLE_SECONDS:
                continue
            if not os.path.exists(final) and usable(java, partial):
                os.replace(partial, final)
            else:
                os.remove(partial)
        except OSError:
            continue


def _remove_other_keys(folder: str, key: str, now: float) -> None:
    """Remove the archives (each ~180 MB) of the same jars folder made for another Java or
    Spark (an upgrade: of no use any more), and those of other folders that no run has used
    for ``UNUSED_DAYS`` (a deleted environment; a live one records again if ever run)."""
    where = key.split("-", 1)[0]
    for path in glob.glob(os.path.join(folder, "spark-*")):
        name = os.path.basename(path)
        if name.startswith(f"spark-{key}."):
            continue
        named_where = "-" in name[len("spark-"):].split(".", 1)[0]  # older names had no folder
        try:
            if not named_where or name.startswith(f"spark-{where}-") or \
                    now - os.path.getmtime(path) > UNUSED_DAYS * 86400:
                os.remove(path)
        except OSError:
            pass


def archive_options(java: str, jars_dir: str, folder: Optional[str] = None,
                    now: Optional[float] = None) -> List[str]:
    """The JVM options of a local Spark driver: map the archive, or record one at exit."""
    if os.environ.get(ARCHIVE_ENV, "1") == "0" or not os.path.isdir(jars_dir):
        return []
    folder = folder or os.path.join(cache_dir(), "jvm")
    if any(ch.isspace() for ch in folder):  # Spark splits extraJavaOptions on whitespace
        return []
    try:
        os.makedirs(folder, exist_ok=True)
        key = archive_key(java, jars_dir)
    except OSError:
        return []
    final = os.path.join(folder, f"spark-{key}.jsa")
    now = time.time() if now is None else now
    _adopt(java, folder, key, final, now)
    if os.path.exists(final):
        try:
            os.utime(final, (now, now))  # in use: not for another environment's clean-up
        except OSError:
            pass
        return [f"-XX:SharedArchiveFile={final}", "-Xshare:auto", "-XX:+VerifySharedSpaces", *QUIET]
    _remove_other_keys(folder, key, now)
    if not os.access(folder, os.W_OK):
        return []
    partial = os.path.join(folder, f"spark-{key}.{uuid.uuid4().hex[:8]}.partial")
    return [f"-XX:ArchiveClassesAtExit={partial}", *QUIET]


def records_at_exit(java_options: str) -> bool:
    """Whether a driver started with ``java_options`` records an archive when it exits (the
    first local run: the JVM then outlives Python by the seconds the dump takes)."""
    return "-XX:ArchiveClassesAtExit=" in java_options
