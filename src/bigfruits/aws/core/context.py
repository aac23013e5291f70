"""Everything a command needs, made once by the CLI: settings, the sender (real or dry-run),
the state file, and the injectable pieces of the outside world (clock, sleep, the caller's IP,
confirmation), so tests replace them instead of patching modules."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, Optional

import click

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import DryRunSender, Sender, make_session
from bigfruits.aws.core.names import check_studio_name
from bigfruits.aws.core.settings import AwsSettings, StudioSettings, default_bucket_name
from bigfruits.aws.core.state import CURRENT_BUCKET, State
from bigfruits.errors import AwsError

CHECKIP_URL = "https://checkip.amazonaws.com"


def lookup_public_ip(timeout_s: float = 10.0) -> str:
    """The caller's public IPv4 as AWS sees it (the address port 22 is opened for)."""
    import ipaddress
    import urllib.request

    try:
        with urllib.request.urlopen(CHECKIP_URL, timeout=timeout_s) as resp:  # noqa: S310
            text = resp.read().decode().strip()
        return str(ipaddress.IPv4Address(text))
    except (OSError, ValueError) as exc:
        raise AwsError(
            f"cannot find your public IP via {CHECKIP_URL} ({exc})", "pass --my-ip A.B.C.D"
        ) from exc


def new_run_id() -> str:
    """A name for one pipeline run's output folder: UTC time, sortable, plus 4 random hex."""
    import datetime as dt
    import secrets

    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass
class Injected:
    """The outside world, replaceable: tests pass one of these as click's ``obj``."""

    session_factory: Callable[[Optional[str], Optional[str]], Any] = make_session
    wrap_sender: Optional[Callable[[Sender], Sender]] = None
    ip_lookup: Callable[[], str] = lookup_public_ip
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    #: Wall-clock seconds, for what outlives the process (the day-long price cache).
    wall_clock: Callable[[], float] = time.time
    poll_interval_s: float = 30.0
    confirm: Optional[Callable[[str], bool]] = None
    run_id: Callable[[], str] = new_run_id


@dataclass
class AwsContext:
    settings: AwsSettings
    sender: Sender
    state: State
    injected: Injected = field(default_factory=Injected)
    _account: Optional[str] = None

    @classmethod
    def create(cls, settings: AwsSettings, dry_run: bool, injected: Injected) -> "AwsContext":
        if dry_run:
            sender: Sender = DryRunSender()
        else:
            sender = Sender(injected.session_factory(settings.profile, settings.region))
        if injected.wrap_sender is not None:
            sender = injected.wrap_sender(sender)
        return cls(settings, sender, State(settings.state_path(), dry_run=dry_run), injected)

    @property
    def dry_run(self) -> bool:
        return self.sender.dry_run

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        return self.sender.send(request)

    def echo(self, message: str) -> None:
        """Messages for humans; in a dry run on stderr (stdout is only JSON lines) and marked,
        since what they report (created, placed, requested) did not happen."""
        if self.dry_run:
            message = "\n".join(f"(dry run) {line}" for line in message.splitlines())
        click.echo(message, err=self.dry_run)

    def confirm(self, question: str) -> bool:
        if self.injected.confirm is not None:
            return self.injected.confirm(question)
        return click.confirm(question, default=False, err=self.dry_run)

    @property
    def region(self) -> str:
        if self.settings.region:
            return self.settings.region
        if self.dry_run:
            return "<region>"
        return str(self.sender.client("sts").meta.region_name)

    def account_id(self) -> str:
        if self._account is None:
            self._account = self.sender.account_id()
        return self._account

    def bucket(self) -> str:
        """The configured bucket, else the one we created, else our default name."""
        name = self.settings.bucket or self.state.get(CURRENT_BUCKET)
        if not name:
            name = default_bucket_name(self.settings.project, self.account_id(), self.region)
        return str(name)

    def settings_with_bucket(self) -> AwsSettings:
        """The settings with the bucket name resolved (request builders need it literally)."""
        return replace(self.settings, bucket=self.bucket())

    def studio_settings(self, bucket: Optional[str] = None, **choices: Any) -> StudioSettings:
        """The Studio's settings for this project and region (``bucket`` else ours)."""
        if choices.get("name") is not None:
            check_studio_name(str(choices["name"]))  # before the bucket lookup asks AWS anything
        return StudioSettings(project=self.settings.project, bucket=bucket or self.bucket(),
                              region=self.region, **choices)
