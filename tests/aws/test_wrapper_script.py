"""``scripts/aws_setup.sh <command>`` keeps users' command lines working: it is
``bigfruits aws <command>`` (checked with --dry-run, which sends nothing)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wrapper_runs_bigfruits_aws(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "PYTHONPATH": str(ROOT / "src"),
           "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "AWS_REGION": "eu-west-1"}
    done = subprocess.run(
        [str(ROOT / "scripts" / "aws_setup.sh"), "--dry-run", "create-bucket", "--bucket", "bf-b1"],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout.splitlines()[0])
    assert first == {"service": "s3", "operation": "ListBuckets", "params": {}}
    assert any('"CreateBucket"' in line for line in done.stdout.splitlines())
    assert os.access(ROOT / "scripts" / "aws_setup.sh", os.X_OK)
