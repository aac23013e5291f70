"""The run's accounting: every selected image ends up in exactly one of features/ and errors/."""
from __future__ import annotations

import pytest

from bigfruits.pipeline.run import check_accounting

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure


@pytest.mark.parametrize("listed, ok, failed, distinct", [(5, 3, 2, 5), (4, 4, 0, 4), (3, 0, 3, 3)])
def test_accounting_that_adds_up_passes(listed: int, ok: int, failed: int, distinct: int) -> None:
    """Protects good runs from a false alarm: ok + failed == distinct paths == listed."""
    check_accounting(listed, ok, failed, distinct)


@pytest.mark.parametrize("listed, ok, failed, distinct", [
    (5, 3, 1, 4),  # an image lost: neither featurized nor failed
    (5, 4, 2, 5),  # an image counted twice (in both)
    (5, 4, 1, 4),  # a duplicate row: rows add up to listed, distinct paths do not
    (5, 6, 0, 6),  # more rows than images listed
    (5, 3, 2, 6),  # a path that was never listed
])
def test_accounting_that_does_not_add_up_fails_the_run(listed: int, ok: int, failed: int,
                                                       distinct: int) -> None:
    """Protects images_total == images_ok + images_failed in the manifest: any lost, doubled
    or foreign image fails the run with every count in the message."""
    with pytest.raises(RuntimeError) as raised:
        check_accounting(listed, ok, failed, distinct)
    assert str(raised.value) == (f"accounting mismatch: {listed} listed, {ok} featurized, "
                                 f"{failed} failed, {distinct} distinct paths")
