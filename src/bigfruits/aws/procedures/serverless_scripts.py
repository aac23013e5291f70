"""The two scripts an EMR Serverless job starts from (its ``entryPoint``), uploaded to our bucket
once, named by content:

- the **driver**: checks that the image's Python is the one the dependency archive was made
  for, with one line if not, then calls ``bigfruits.cli.main`` (from ``./deps``) with the job's
  arguments: the same CLI the EMR step and a laptop run.
- the **probe**: no archive; prints, as one JSON line, the image's Python interpreters with
  their packages and what the executors run, so a user settles the archive's Python on their
  own account (``serverless probe``).

Both run on the image's Python, whatever its version: plain syntax only.
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.bucket_files import place_once
from bigfruits.aws.requests import emr_serverless

DRIVER = '''"""bigfruits on EMR Serverless: `bigfruits run ...` with the dependency archive on PYTHONPATH."""
import sys

if sys.version_info[:2] != ({major}, {minor}):
    sys.exit("bigfruits: error: the dependency archive is for Python {major}.{minor} but this image runs "
             "Python %s: run `bigfruits aws serverless probe`, then `bigfruits aws serverless run "
             "--python X.Y` with a Python it has" % sys.version.split()[0])

from bigfruits.cli import main  # noqa: E402 - after the check, from ./deps

sys.exit(main(sys.argv[1:]))
'''

PROBE = '''"""bigfruits serverless probe: the image's Python interpreters and their packages."""
import glob
import json
import os
import platform
import re
import subprocess
import sys

DESCRIBE = (
    "import json, sys\\n"
    "out = {'executable': sys.executable, 'version': sys.version.split()[0]}\\n"
    "try:\\n"
    "    import importlib.metadata as md\\n"
    "    out['packages'] = dict(sorted((d.metadata['Name'] or '?', d.version) for d in md.distributions()))\\n"
    "except Exception as exc:\\n"
    "    out['packages'] = repr(exc)\\n"
    "print(json.dumps(out))\\n"
)


def describe(python):
    try:
        done = subprocess.run([python, "-c", DESCRIBE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=120, env={"PATH": os.environ.get("PATH", "")})
        return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-500:]}
    except Exception as exc:
        return {"error": repr(exc)}


def interpreters():
    found = set()
    for pattern in ("/usr/bin/python3*", "/usr/local/bin/python3*", "/opt/*/bin/python3*"):
        for path in glob.glob(pattern):
            if re.search(r"python3(\\.\\d+)?$", path) and os.access(path, os.X_OK):
                found.add(os.path.realpath(path))
    return sorted(found)


def executors():
    try:
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.appName("bigfruits-probe").getOrCreate()
        seen = spark.sparkContext.parallelize([0], 1).map(
            lambda _: (__import__("sys").executable, __import__("sys").version.split()[0])).collect()
        spark.stop()
        return {"executable": seen[0][0], "version": seen[0][1]}
    except Exception as exc:
        return {"error": repr(exc)}


report = {
    "driver": {"executable": sys.executable, "version": sys.version.split()[0],
               "libc": " ".join(platform.libc_ver()), "machine": platform.machine()},
    "environment": {k: os.environ.get(k) for k in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_HOME")},
    "interpreters": {path: describe(path) for path in interpreters()},
    "executors": executors(),
}
print("bigfruits-probe: " + json.dumps(report, sort_keys=True))
'''


def driver_script(python_version: str) -> str:
    major, minor = (int(part) for part in python_version.split("."))
    return DRIVER.format(major=major, minor=minor)


def upload_script(ctx: AwsContext, text: str, name: str) -> str:
    """``s3://<bucket>/serverless/scripts/<sha256>-<name>``, uploaded when missing."""
    sha = hashlib.sha256(text.encode()).hexdigest()[:32]
    with tempfile.TemporaryDirectory(prefix="bigfruits-script-") as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        return place_once(ctx, path, f"{emr_serverless.SCRIPTS_PREFIX}{sha}-{name}")
