"""Fixtures for the AWS tests: the moto server (tests/support/aws/server.py), our wheel, and
stand-ins for what the commands make on this machine before they send anything."""
import pytest

from tests.support.aws.cli import built_wheel  # noqa: F401
from tests.support.aws.server import aws_env, moto_tls, moto_url  # noqa: F401
from tests.support.aws.stand_ins import local_stand_ins


@pytest.fixture(autouse=True)
def stand_ins(monkeypatch, tmp_path):
    """``local_stand_ins`` for every AWS test (tests of the real thing call the real function,
    kept before this fixture replaces it)."""
    return local_stand_ins(monkeypatch, tmp_path)


#: What the command tests upload as "the dependency archive": they test what is sent and
#: where; the real one (a pip install for the image's Python) is built and run by
#: tests/e2e/test_serverless_archive.py and test_serverless_spark_submit.py.
STAND_IN_ARCHIVE = b"stand-in dependency archive of the command tests: never unpacked"


@pytest.fixture(autouse=True)
def no_archive_build(monkeypatch, tmp_path):
    """``serverless run`` builds the wheel, a wheelhouse for the image's Python and the archive
    (tens of seconds, PyPI once); here a small file named by the Python it is for."""
    from bigfruits.aws.procedures import serverless_archive

    built = []

    def stand_in(python_version="3.9", echo=None):
        serverless_archive.check_python(python_version)
        path = tmp_path / f"stand-in-archive-{python_version}.tar.gz"
        path.write_bytes(STAND_IN_ARCHIVE + python_version.encode())
        built.append(python_version)
        return path

    monkeypatch.setattr(serverless_archive, "build_archive", stand_in)
    return built
