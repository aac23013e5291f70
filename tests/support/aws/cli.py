"""``bigfruits aws`` as a user types it, with the outside world injected (no sleeping, a fixed
caller IP, scripted confirmations), plus the dataset and the wheel the commands upload."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest
from click.testing import CliRunner

from bigfruits.aws.cli import aws
from bigfruits.aws.core.context import Injected
from bigfruits.aws.core.send import Sender
from tests.support.aws.emr import FakeEmr
from tests.support.aws.server import CALLER_IP


def moto_with_steps_that_finish(sender: Sender) -> Sender:
    """moto's EMR steps never finish; create-cluster waits for the JupyterHub password step
    to complete. By default, then: moto as it is, except that each step completes on its third
    DescribeStep (FakeEmr with moto's own cluster states)."""
    return FakeEmr(sender, cluster_states=[])


def injected(fake: Optional[Callable[[Sender], Sender]] = None, answers: Optional[List[bool]] = None) -> Injected:
    """No real sleeping, a fixed caller IP, and scripted answers to confirmations."""
    clock = {"t": 0.0}

    def sleep(seconds: float) -> None:
        clock["t"] += seconds

    replies = list(answers or [])
    return Injected(wrap_sender=fake or moto_with_steps_that_finish, ip_lookup=lambda: CALLER_IP, sleep=sleep,
                    clock=lambda: clock["t"], poll_interval_s=30.0,
                    confirm=(lambda q: replies.pop(0)) if answers is not None else None)


def run(args: List[str], obj: Optional[Injected] = None, expect_ok: bool = True) -> Any:
    """``bigfruits aws <args>`` as a user types it, through click (the group object itself)."""
    result = CliRunner().invoke(aws, args, obj=obj or injected(), catch_exceptions=True)
    if expect_ok and result.exit_code != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({result.exit_code}):\n{result.output}\n{result.exception!r}")
    return result


def make_dataset(root: Path) -> Path:
    """A tiny Fruits-360-shaped tree (Test/<class>/<img>.jpg); bytes need not be real JPEGs."""
    for cls, n in (("apple", 2), ("banana", 3)):
        folder = root / "Test" / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (folder / f"{i}.jpg").write_bytes(f"{cls}-{i}".encode() * 10)
    return root


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our real wheel, built once (what create-cluster uploads)."""
    from bigfruits.aws.procedures.wheel import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))
