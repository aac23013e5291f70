"""What ``pipeline/s3.py`` sends and does when S3 answers badly, without a network: one real
botocore S3 client whose answers are canned with botocore's ``Stubber``.

Why Stubber here: these tests are pure (mutmut runs them per mutant, docs/mutation-testing.md)
and need answers no server gives on demand: a body cut short after its headers, S3's error
codes. Each request is still checked against botocore's model and the expected parameters
(``If-Match``: the listed ETag), and each answer against the output shape. The same faults
over real TLS (S3Front cutting answers, Toxiproxy resetting connections) are in
``test_s3_faults.py``.
"""
from __future__ import annotations

import io
import random
from typing import Any, Dict, Iterator, List

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from bigfruits.pipeline import s3 as pipeline_s3
from bigfruits.pipeline.s3 import S3Settings, describe_error, get_object, is_s3, list_objects

pytestmark = pytest.mark.pure

BODY = b"0123456789" * 10
ETAG = "9e107d9d372bb6826bd81d3542a419d6"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The S3 client every read and listing gets (stubbed; fake credentials, no network)."""
    made = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s",
                                 region_name="eu-west-1").client("s3")
    monkeypatch.setattr(pipeline_s3, "s3_client", lambda settings: made)
    monkeypatch.setattr(boto3, "client", lambda service, *a, **kw: made)
    with Stubber(made) as stubber:
        made.stubber = stubber
        yield made
        stubber.assert_no_pending_responses()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> List[float]:
    """The pauses between attempts, each its backoff's upper bound (random.uniform's ``b``)."""
    slept: List[float] = []
    monkeypatch.setattr(random, "uniform", lambda a, b: b)
    monkeypatch.setattr(pipeline_s3.time, "sleep", slept.append)
    return slept


def body(data: bytes, length: int) -> StreamingBody:
    """An answer's body: ``length`` bytes announced, ``data`` delivered (shorter: cut)."""
    return StreamingBody(io.BytesIO(data), length)


def expect_get(client: Any, answer_body: StreamingBody) -> None:
    client.stubber.add_response("get_object", {"Body": answer_body, "ContentLength": len(BODY)},
                                {"Bucket": "bkt", "Key": "raw/Test/Kiwi/a b#1.jpg",
                                 "IfMatch": f'"{ETAG}"'})


def read(max_attempts: int = 6) -> bytes:
    return get_object("s3a://bkt/raw/Test/Kiwi/a b#1.jpg", len(BODY), f"etag:{ETAG}",
                      S3Settings(max_attempts=max_attempts))


def test_a_body_cut_twice_is_read_on_the_third_get_after_growing_waits(client: Any, waits: List[float]) -> None:
    """Protects reads cut mid-answer (a reset after the headers): botocore does not retry a
    body, we do, more than once, each time after a longer backoff (full jitter, doubled)."""
    expect_get(client, body(BODY[:37], len(BODY)))
    expect_get(client, body(BODY[:90], len(BODY)))
    expect_get(client, body(BODY, len(BODY)))
    assert read() == BODY
    assert waits == [0.4, 0.8]  # base 0.2 s * 2**attempt


def test_a_body_cut_every_time_gives_up_after_the_attempts_naming_the_cause(client: Any,
                                                                           waits: List[float]) -> None:
    for _ in range(3):
        expect_get(client, body(BODY[:10], len(BODY)))
    with pytest.raises(OSError) as failed:
        read(max_attempts=3)
    assert str(failed.value).startswith("S3 GET failed after 3 attempts: IncompleteReadError: ")
    assert waits == [0.4, 0.8]


def test_a_body_shorter_than_listed_is_asked_again_then_refused(client: Any, waits: List[float]) -> None:
    """An answer complete by its own length but not the listed size (replaced in place without
    If-Match support): asked again, then an error row, never features of other bytes."""
    for _ in range(2):
        client.stubber.add_response("get_object", {"Body": body(BODY[:40], 40), "ContentLength": 40},
                                    {"Bucket": "bkt", "Key": "raw/Test/Kiwi/a b#1.jpg",
                                     "IfMatch": f'"{ETAG}"'})
    with pytest.raises(OSError, match=r"^S3 GET returned 40 bytes, 100 listed$"):
        read(max_attempts=2)
    assert waits == [0.4]


def test_backoff_doubles_up_to_its_cap_and_starts_at_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: List[tuple] = []
    monkeypatch.setattr(random, "uniform", lambda a, b: drawn.append((a, b)) or b)
    assert [pipeline_s3.backoff_s(n) for n in range(1, 10)] == [0.4, 0.8, 1.6, 3.2, 6.4, 8.0, 8.0, 8.0, 8.0]
    assert {a for a, _ in drawn} == {0}  # full jitter: anywhere from no wait at all


@pytest.mark.parametrize("code, status, message", [
    ("PreconditionFailed", 412, "changed since it was listed (its ETag no longer matches: "
                                "PreconditionFailed, HTTP 412)"),
    ("NoSuchKey", 404, "vanished since it was listed (NoSuchKey, HTTP 404)"),
    # an error answer without a body: botocore takes the HTTP status for the code
    ("412", 412, "changed since it was listed (its ETag no longer matches: PreconditionFailed, HTTP 412)"),
    ("404", 404, "vanished since it was listed (NoSuchKey, HTTP 404)"),
    ("SlowDown", 503, "S3 GET failed after retries: SlowDown (HTTP 503)"),
    ("AccessDenied", 403, "S3 GET failed after retries: AccessDenied (HTTP 403)"),
])
def test_an_error_answer_is_one_line_naming_it(client: Any, waits: List[float], code: str, status: int,
                                               message: str) -> None:
    times = S3Settings().max_attempts if code == "SlowDown" else 1  # throttling: asked again
    for _ in range(times):
        client.stubber.add_client_error("get_object", code, "simulated", http_status_code=status,
                                        expected_params={"Bucket": "bkt", "Key": "raw/Test/Kiwi/a b#1.jpg",
                                                         "IfMatch": f'"{ETAG}"'})
    with pytest.raises(OSError) as failed:
        read()
    assert str(failed.value) == message and len(waits) == times - 1


def test_an_input_without_an_etag_is_read_without_if_match(client: Any) -> None:
    client.stubber.add_response("get_object", {"Body": body(BODY, len(BODY))},
                                {"Bucket": "bkt", "Key": "k"})
    assert get_object("s3://bkt/k", len(BODY), "mtime:5", S3Settings()) == BODY


def test_a_connection_error_past_botocores_retries_is_one_line(waits: List[float]) -> None:
    """A reset past botocore's retries (its retry quota may be empty: it then retries nothing)
    is retried here within the attempts, then one line naming it."""
    calls: List[Dict[str, Any]] = []

    class Refusing:
        def get_object(self, **params: Any) -> Dict[str, Any]:
            calls.append(params)
            raise ConnectionResetError("[Errno 104] Connection reset by peer")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline_s3, "s3_client", lambda settings: Refusing())
        with pytest.raises(OSError) as failed:
            get_object("s3://bkt/k", 1, "", S3Settings())
    assert str(failed.value) == ("S3 GET failed after retries: ConnectionResetError: "
                                 "[Errno 104] Connection reset by peer")
    assert len(calls) == S3Settings().max_attempts == len(waits) + 1


def test_a_read_timeout_when_botocore_retries_no_more_is_asked_again() -> None:
    """Protects images from becoming error rows once botocore's retry quota is empty (a burst
    of timeouts): two lost answers, then the bytes."""
    from botocore.exceptions import ReadTimeoutError

    answers: List[Any] = [ReadTimeoutError(endpoint_url="https://s3/k"),
                          ReadTimeoutError(endpoint_url="https://s3/k"), b"abc"]

    class Flaky:
        def get_object(self, **params: Any) -> Dict[str, Any]:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return {"Body": io.BytesIO(answer)}

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline_s3, "s3_client", lambda settings: Flaky())
        patch.setattr(pipeline_s3.time, "sleep", lambda s: None)
        assert get_object("s3://bkt/k", 3, "", S3Settings()) == b"abc"
    assert answers == []


def test_a_refused_connection_is_not_asked_again() -> None:
    """Nothing listening (a wrong endpoint): one line at once, not the attempts' waits."""
    from botocore.exceptions import EndpointConnectionError

    calls: List[int] = []

    class Nobody:
        def get_object(self, **params: Any) -> Dict[str, Any]:
            calls.append(1)
            raise EndpointConnectionError(endpoint_url="https://nowhere")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline_s3, "s3_client", lambda settings: Nobody())
        with pytest.raises(OSError, match="S3 GET failed after retries: EndpointConnectionError"):
            get_object("s3://bkt/k", 1, "", S3Settings())
    assert calls == [1]


def listing(client: Any, prefix: str, pages: List[List[Dict[str, Any]]]) -> None:
    for i, contents in enumerate(pages):
        answer: Dict[str, Any] = {"Contents": contents, "IsTruncated": i + 1 < len(pages)}
        params: Dict[str, Any] = {"Bucket": "bkt", "Prefix": prefix}
        if i + 1 < len(pages):
            answer["NextContinuationToken"] = f"t{i + 1}"
        if i:
            params["ContinuationToken"] = f"t{i}"
        client.stubber.add_response("list_objects_v2", answer, params)


def test_the_listing_reads_every_page_of_the_folder_and_keeps_size_and_etag(client: Any) -> None:
    """One folder's objects (the prefix ends with ``/``: ``raw`` is not ``rawer``), every page,
    each with its size and unquoted ETag; folder markers are not images."""
    listing(client, "raw/", [
        [{"Key": "raw/Test/A/1.jpg", "Size": 7, "ETag": '"e1"'}, {"Key": "raw/Test/A/", "Size": 0}],
        [{"Key": "raw/Test/B/2 b.jpg", "Size": 0, "ETag": '"e2"'}],
    ])
    assert list(list_objects("s3a://bkt/raw")) == [
        ("s3a://bkt/raw/Test/A/1.jpg", 7, "etag:e1"), ("s3a://bkt/raw/Test/B/2 b.jpg", 0, "etag:e2")]


@pytest.mark.parametrize("uri, prefix", [("s3://bkt/raw/", "raw/"), ("s3://bkt", ""), ("s3://bkt/", "")])
def test_the_listing_prefix_is_the_folder(client: Any, uri: str, prefix: str) -> None:
    listing(client, prefix, [[{"Key": f"{prefix}x.jpg", "Size": 1}]])
    assert list(list_objects(uri)) == [(f"s3://bkt/{prefix}x.jpg", 1, "etag:")]


def test_which_uris_are_s3() -> None:
    assert [is_s3(u) for u in ("s3://b/k", "s3a://b", "s3n://b/", "file:/s3://x", "s3:/b", "hdfs://b")] == [
        True, True, True, False, False, False]


def test_an_error_is_described_by_its_code_and_status_else_by_its_type() -> None:
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")
    assert describe_error(error) == "SlowDown (HTTP 503)"
    assert describe_error(ClientError({"Error": {}}, "GetObject")) == " (HTTP )"
    assert describe_error(ValueError("x" * 300)) == "ValueError: " + "x" * 200


def test_clients_follow_the_settings_and_are_made_once_per_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """One client per Python worker and settings: the retry mode and attempts, the timeouts,
    a connection per read in flight, the endpoint and region the driver's listing used."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    pipeline_s3.forget_clients()
    settings = S3Settings(endpoint_url="https://127.0.0.1:9", region="eu-west-3", max_attempts=4,
                          connect_timeout=2.0, read_timeout=7.0, max_in_flight=12)
    made = pipeline_s3.s3_client(settings)
    assert pipeline_s3.s3_client(settings) is made
    config = made.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}  # the first try included
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (2.0, 7.0, 12)
    assert made.meta.endpoint_url == "https://127.0.0.1:9" and made.meta.region_name == "eu-west-3"
    assert pipeline_s3.s3_client(S3Settings(region="eu-west-3")) is not made
    pipeline_s3.forget_clients()
    assert pipeline_s3.s3_client(settings) is not made
    pipeline_s3.forget_clients()


def test_the_workers_settings_come_from_the_drivers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://general:1")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/ca.pem")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3-only:2")
    assert S3Settings.from_environment() == S3Settings("https://s3-only:2", "ap-south-1", "/ca.pem")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    assert S3Settings.from_environment().endpoint_url == "https://general:1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    assert S3Settings.from_environment().endpoint_url is None


def test_an_empty_folder_lists_nothing(client: Any) -> None:
    """S3 leaves ``Contents`` out of a page with no key (an empty or mistyped input folder)."""
    client.stubber.add_response("list_objects_v2", {"IsTruncated": False, "KeyCount": 0, "Prefix": "empty/"},
                                {"Bucket": "bkt", "Prefix": "empty/"})
    assert list(list_objects("s3://bkt/empty")) == []


def test_a_read_uses_the_client_of_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' settings (endpoint, region, CA bundle, attempts) choose the client a GET uses."""
    asked: List[S3Settings] = []

    class Answering:
        def get_object(self, **params: Any) -> Dict[str, Any]:
            return {"Body": body(BODY, len(BODY))}

    monkeypatch.setattr(pipeline_s3, "s3_client", lambda settings: asked.append(settings) or Answering())
    settings = S3Settings(endpoint_url="https://127.0.0.1:9", region="eu-west-3")
    assert get_object("s3://bkt/k", len(BODY), "", settings) == BODY and asked == [settings]
