"""Toxiproxy (Shopify's TCP proxy that adds latency and faults, a Go program) on 127.0.0.1, for
reading from S3 through the faults S3 has: latency, connections reset, stalled or slow to close.

The server is ``go install``-ed once into ``~/.cache/bigfruits-tests/toxiproxy`` from the Go
module proxy (``bigfruits.bench.toxiproxy.toxiproxy_server``, which the benchmark uses too; CI
does the same on first use). Where it cannot be had, the tests that need it skip with the
reason, except under CI (``tests.support.ci``: ``CI`` true, 1 or yes), where they fail:
CI must run them.

Fixture ``toxiproxy``: one server for the session, its proxies removed before and after each
test. Toxiproxy is a TCP proxy: TLS to moto passes through it untouched (the certificate names
127.0.0.1, the proxy's address too).
"""
from __future__ import annotations

import subprocess
from typing import Iterator

import pytest

from bigfruits.bench.local_servers import stop
from bigfruits.bench.toxiproxy import Toxiproxy, start_toxiproxy, toxiproxy_server
from tests.support.ci import skip_or_fail

__all__ = ["Toxiproxy", "require_toxiproxy", "toxiproxy", "toxiproxy_session"]


def require_toxiproxy() -> str:
    try:
        return toxiproxy_server()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        skip_or_fail(f"Toxiproxy unavailable for the S3 fault tests: {exc}")


@pytest.fixture(scope="session")
def toxiproxy_session() -> Iterator[Toxiproxy]:
    proc, client = start_toxiproxy(require_toxiproxy())
    yield client
    stop(proc)


@pytest.fixture
def toxiproxy(toxiproxy_session: Toxiproxy) -> Iterator[Toxiproxy]:
    toxiproxy_session.delete_all()
    yield toxiproxy_session
    toxiproxy_session.delete_all()
