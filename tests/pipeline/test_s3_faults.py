"""Reading images from S3 as the featurize stage's Python workers do (``fetch.fetch_ahead``:
boto3, one GET per image, many in flight) through Toxiproxy and ``S3Front`` (TLS as S3 does it,
and 503 SlowDown when asked) to the moto server, all on 127.0.0.1, with S3's faults: latency, connections reset, stalled and slow to close, 503
SlowDown bursts, answers cut mid-body. Every input is answered, with the very bytes uploaded;
a read that cannot succeed is an error string naming the cause; an object changed since the
listing is one too. Each fault test also shows that its fault happened (connections cut, GETs
sent again), so none passes because the fault never took place."""
from __future__ import annotations

import time
from typing import Dict, Iterator, List, Tuple

import boto3
import pytest

from tests.support.aws.server import REGION, moto_tls, moto_url  # noqa: F401 (fixtures)
from tests.support.paths import SAMPLE
from tests.support.network.toxiproxy import Toxiproxy, toxiproxy, toxiproxy_session  # noqa: F401

from bigfruits.bench.s3_front import S3Front
from bigfruits.pipeline import s3 as pipeline_s3
from bigfruits.pipeline.fetch import fetch_ahead
from bigfruits.pipeline.s3 import S3Settings, list_objects

BUCKET = "fault-reads"
IMAGES = 60


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def uploaded(moto_url, moto_tls) -> Dict[str, bytes]:  # noqa: F811
    """``IMAGES`` real images in a bucket (straight to moto, no faults): key -> bytes."""
    s3 = boto3.session.Session().client(
        "s3", region_name=REGION, endpoint_url=moto_url, verify=str(moto_tls[0]),
        aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    files = sorted(SAMPLE.rglob("*.jpg"))[:IMAGES]
    content = {}
    for path in files:
        key = f"raw/Test/{path.parent.name}/{path.name}"
        content[key] = path.read_bytes()
        s3.put_object(Bucket=BUCKET, Key=key, Body=content[key])
    return content


@pytest.fixture
def env(monkeypatch, moto_tls, tmp_path) -> None:  # noqa: F811
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(moto_tls[0]))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    pipeline_s3.forget_clients()


def settings_for(port: int, moto_tls, **kw) -> S3Settings:  # noqa: F811
    return S3Settings(endpoint_url=f"https://127.0.0.1:{port}", region=REGION,
                      ca_bundle=str(moto_tls[0]), **kw)


def read_all(uploaded: Dict[str, bytes], settings: S3Settings,
             **kw) -> Tuple[List[Tuple[Tuple[str, int, str], Tuple]], float]:
    """List through ``settings``' endpoint (as the driver does), then read every image."""
    import os

    os.environ["AWS_ENDPOINT_URL"] = settings.endpoint_url or ""
    try:
        rows = list(list_objects(f"s3a://{BUCKET}/raw"))
    finally:
        del os.environ["AWS_ENDPOINT_URL"]
    assert len(rows) == len(uploaded)
    started = time.perf_counter()
    out = list(fetch_ahead(rows, settings, **kw))
    return out, time.perf_counter() - started


def assert_every_image_read_intact(out, uploaded) -> None:
    assert len(out) == len(uploaded)
    for (path, size, _stamp), (content, error) in out:
        key = path.split(f"{BUCKET}/", 1)[1]
        assert error is None, (path, error)
        assert content == uploaded[key] and len(content) == size


def s3_front(moto_url: str, moto_tls, **throttle) -> S3Front:  # noqa: F811
    return S3Front(_port(moto_url), *moto_tls, upstream_ca=moto_tls[0], **throttle)


@pytest.fixture(scope="module")
def front(moto_url, moto_tls) -> Iterator[S3Front]:  # noqa: F811
    with s3_front(moto_url, moto_tls) as running:
        yield running


def proxied(toxiproxy: Toxiproxy, front: S3Front) -> int:  # noqa: F811
    return toxiproxy.proxy("s3", front.port)


def test_latency_is_hidden_by_reads_in_flight(uploaded, env, toxiproxy, front, moto_tls):  # noqa: F811
    port = proxied(toxiproxy, front)
    toxiproxy.toxic("s3", "latency", latency=100)
    out, _ = read_all(uploaded, settings_for(port, moto_tls))
    assert_every_image_read_intact(out, uploaded)
    # Behaviour, not a timing: one read after another would hold one connection at a time
    # (kept alive); reads in flight hold many at once. (How much time that saves is the
    # benchmark's figure, not a test's.)
    assert front.most_open_connections >= 8, front.most_open_connections


class GetAttempts:
    """Every GetObject attempt the workers' client sends, retries included (botocore's
    ``before-send`` event fires once per attempt): the second GETs, seen from the client."""

    def __init__(self, settings: S3Settings) -> None:
        self.count = 0
        pipeline_s3.s3_client(settings).meta.events.register("before-send.s3.GetObject", self)

    def __call__(self, **kwargs: object) -> None:
        self.count += 1


#: Toxiproxy's toxicity is per *connection*, and boto3 keeps its (up to 32) connections alive
#: for many GETs: a toxic hits the connections it is drawn for, each then failing the request
#: it carries, and the client retries on a new connection (a new draw). Through TLS the first
#: bytes to flow are the handshake's, so a toxic with no delay hits there; the request it
#: interrupts was already counted as an attempt. 10 attempts per GET: a toxicity of 0.3 fails
#: all ten for one image with a chance of 0.3**10, 6e-6.
RETRIED_FAULTS = [
    ("reset_peer", 0.3, {"timeout": 0}),       # reset as soon as data flows back
    ("reset_peer", 0.3, {"timeout": 20}),      # reset 20 ms in: in the handshake or the answer
    ("timeout", 0.2, {"timeout": 500}),        # stalled, then closed without an answer
]


@pytest.mark.parametrize("kind, toxicity, attributes", RETRIED_FAULTS)
def test_connection_faults_happen_are_retried_and_nothing_is_lost(uploaded, env, toxiproxy, front,  # noqa: F811
                                                                  moto_tls, kind, toxicity, attributes):
    """Protects reads through a flaky network, and shows the faults happened: connections
    ended before their request was answered (S3Front counts them), and the client sent more
    GETs than there are images (the retries), every image still arriving intact."""
    port = proxied(toxiproxy, front)
    toxiproxy.toxic("s3", kind, toxicity=toxicity, **attributes)
    cut_before = front.connections_without_request
    settings = settings_for(port, moto_tls, read_timeout=3.0, max_attempts=10)
    attempts = GetAttempts(settings)
    out, _ = read_all(uploaded, settings)
    assert_every_image_read_intact(out, uploaded)
    assert front.connections_without_request > cut_before, "no connection was hit: the fault never happened"
    assert attempts.count > len(uploaded), f"{attempts.count} GETs for {len(uploaded)} images: nothing retried"


def test_a_connection_slow_to_close_costs_no_retry(uploaded, env, toxiproxy, front, moto_tls):  # noqa: F811
    """``slow_close`` delays the close of a connection; boto3 keeps its connections open and
    never waits for a close, so this fault cannot cause a retry at all: every image is read
    with exactly one GET (which is what this test checks, rather than "retried")."""
    port = proxied(toxiproxy, front)
    toxiproxy.toxic("s3", "slow_close", toxicity=1.0, delay=1000)
    settings = settings_for(port, moto_tls, read_timeout=3.0)
    attempts = GetAttempts(settings)
    out, _ = read_all(uploaded, settings)
    assert_every_image_read_intact(out, uploaded)
    assert attempts.count == len(uploaded)


def test_an_answer_cut_mid_body_is_asked_for_again_and_read_whole(uploaded, env, moto_url, moto_tls):  # noqa: F811
    """Protects the body retry over real TLS: S3Front sends the first two answers of every
    image half their body and closes the connection (as a reset after the headers does);
    each image is read whole on its third GET, which S3Front saw arrive."""
    with s3_front(moto_url, moto_tls, cut_per_key=2) as cutting:
        out, _ = read_all(uploaded, settings_for(cutting.port, moto_tls))
    assert_every_image_read_intact(out, uploaded)
    assert cutting.cut_answers == 2 * len(uploaded)
    assert sorted(cutting.gets.values()) == [3] * len(uploaded), dict(cutting.gets)


def test_slowdown_bursts_are_retried_with_backoff(uploaded, env, toxiproxy, moto_url, moto_tls):  # noqa: F811
    with s3_front(moto_url, moto_tls, burst=20, every=4, per_key=2) as throttle:
        port = toxiproxy.proxy("s3", throttle.port)
        toxiproxy.toxic("s3", "latency", latency=30)
        out, _ = read_all(uploaded, settings_for(port, moto_tls))
    assert throttle.served_503 >= 20
    assert_every_image_read_intact(out, uploaded)
    # each 503 was followed by another GET of the same image: 60 images, one answer each
    assert sum(throttle.gets.values()) == len(uploaded) + throttle.served_503


def test_a_read_that_keeps_failing_is_an_error_row_naming_the_cause(uploaded, env, toxiproxy, front,  # noqa: F811
                                                                    moto_url, moto_tls):
    with s3_front(moto_url, moto_tls, burst=10_000) as throttle:
        settings = settings_for(throttle.port, moto_tls, max_attempts=2)
        rows = [(f"s3://{BUCKET}/{key}", len(data), "") for key, data in list(uploaded.items())[:3]]
        out = list(fetch_ahead(rows, settings))
    assert [fetched for _, fetched in out] == [
        (None, "S3 GET failed after retries: SlowDown (HTTP 503)")] * 3
    port = proxied(toxiproxy, front)
    toxiproxy.toxic("s3", "reset_peer", toxicity=1.0, timeout=0)
    out = list(fetch_ahead(rows[:2], settings_for(port, moto_tls, max_attempts=2)))
    for _, (content, error) in out:
        assert content is None and error.startswith("S3 GET failed after"), error


def test_an_object_changed_since_the_listing_is_an_error_row(uploaded, env, moto_url, moto_tls):  # noqa: F811
    settings = settings_for(_port(moto_url), moto_tls)
    key = next(iter(uploaded))
    s3 = pipeline_s3.s3_client(settings)
    etag = s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
    rows = [(f"s3a://{BUCKET}/{key}", len(uploaded[key]), f"etag:{etag}")]
    assert list(fetch_ahead(rows, settings))[0][1] == (uploaded[key], None)
    s3.put_object(Bucket=BUCKET, Key=key, Body=uploaded[key] + b"changed")
    try:
        assert list(fetch_ahead(rows, settings))[0][1] == (
            None, "changed since it was listed (its ETag no longer matches: PreconditionFailed, HTTP 412)")
        s3.delete_object(Bucket=BUCKET, Key=key)
        assert list(fetch_ahead(rows, settings))[0][1] == (
            None, "vanished since it was listed (NoSuchKey, HTTP 404)")
    finally:
        s3.put_object(Bucket=BUCKET, Key=key, Body=uploaded[key])
