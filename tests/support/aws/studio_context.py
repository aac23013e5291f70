"""An ``AwsContext`` around a given sender and Studio settings, for tests that drive the Studio
code (``ensure_studio``, ``destroy_studio``) without the CLI: the project, bucket and region
come from the ``StudioSettings``, the sleep is the test's, and the state file is never written
(a dry-run ``State`` at a path that does not exist)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from bigfruits.aws.core.context import AwsContext, Injected
from bigfruits.aws.core.send import Sender
from bigfruits.aws.core.settings import AwsSettings, StudioSettings
from bigfruits.aws.core.state import State


def studio_context(settings: StudioSettings, sender: Sender,
                   sleep: Callable[[float], None] = lambda _: None) -> AwsContext:
    aws_settings = AwsSettings(project=settings.project, bucket=settings.bucket, region=settings.region)
    state = State(Path("/nonexistent/bigfruits-test-state.json"), dry_run=True)
    return AwsContext(aws_settings, sender, state, Injected(sleep=sleep))
