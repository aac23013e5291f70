"""Bucket commands: create-bucket, upload-dataset, download-results (around
``requests/s3``: they decide, send, remember, show progress)."""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from tqdm import tqdm

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.settings import DEFAULT_DATASET_PATH
from bigfruits.aws.core.tags import is_ours
from bigfruits.aws.requests import s3 as b
from bigfruits.errors import AwsError, InputError

BUCKET_KIND = "bucket"
UPLOAD_WORKERS = 8


def create_bucket(ctx: AwsContext, name: Optional[str] = None) -> str:
    """Idempotent: our bucket already there is fine; a bucket that is not ours is an error."""
    name = name or ctx.bucket()
    existing = [x["Name"] for x in ctx.send(b.list_buckets()).get("Buckets", [])]
    if name in existing:
        if not bucket_is_ours(ctx, name):
            raise AwsError(
                f"bucket {name} exists in your account but was not created by bigfruits",
                "pass another --bucket, or tag it bigfruits:managed=true and bigfruits:project",
            )
        ctx.echo(f"bucket s3://{name} already exists (ours): securing it again")
    else:
        try:
            ctx.send(b.create_bucket(name, ctx.region))
        except AwsError as exc:
            if exc.code == "BucketAlreadyExists":
                raise AwsError(
                    f"bucket name {name} is taken by another AWS account",
                    "bucket names are global: pass another --bucket",
                ) from exc
            if exc.code != "BucketAlreadyOwnedByYou":
                raise
    for request in b.secure_bucket(name, ctx.settings.project):
        ctx.send(request)
    ctx.state.add(BUCKET_KIND, name, region=ctx.region)
    ctx.state.set("bucket", name)
    ctx.echo(f"bucket s3://{name} ready (private, encrypted, TLS only)")
    return name


def bucket_is_ours(ctx: AwsContext, name: str) -> bool:
    tagging = ctx.sender.attempt(b.get_bucket_tagging(name), "NoSuchTagSet", "NoSuchTagSetError")
    return bool(tagging) and is_ours(tagging.get("TagSet", []), ctx.settings.project)


def list_keys(ctx: AwsContext, bucket: str, prefix: str) -> Dict[str, Tuple[int, str]]:
    """key -> (size, ETag without quotes), every page."""
    found: Dict[str, Tuple[int, str]] = {}
    token: Optional[str] = None
    while True:
        page = ctx.send(b.list_objects(bucket, prefix, token))
        for obj in page.get("Contents", []):
            found[obj["Key"]] = (int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return found


def md5_of(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - compared with S3's ETag, not for security
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def same_content(path: Path, remote: Optional[Tuple[int, str]]) -> bool:
    """Single-part uploads have ETag == MD5, so size + ETag says "unchanged"."""
    if remote is None or not path.is_file():
        return False
    size, etag = remote
    return path.stat().st_size == size and md5_of(path) == etag


def local_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path


def _run_parallel(jobs: List[Tuple[str, str, str]], work: Callable[[str, str, str], None],
                  label: str) -> None:
    """Transfers in parallel (they wait on the network), with one progress bar."""
    with tqdm(total=len(jobs), unit="file", desc=label, disable=None) as bar:
        with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS) as pool:
            for _ in pool.map(lambda job: work(*job), jobs):
                bar.update(1)


def upload_dataset(ctx: AwsContext, path: Optional[Path] = None) -> int:
    """Upload a local image tree to ``raw/``; files already there unchanged are skipped."""
    root = Path(path) if path else DEFAULT_DATASET_PATH
    if not root.is_dir():
        raise InputError(f"dataset folder {root} not found", "pass the folder to upload (e.g. fruits-360/Test)")
    files = list(local_files(root))
    if not files:
        raise InputError(f"dataset folder {root} has no files", "pass a folder of images")
    bucket = ctx.bucket()
    remote = list_keys(ctx, bucket, b.RAW_PREFIX)
    todo = []
    for f in files:
        key = b.RAW_PREFIX + f.relative_to(root).as_posix()
        if not same_content(f, remote.get(key)):
            todo.append((str(f), bucket, key))
    ctx.echo(f"{len(todo)} to upload, {len(files) - len(todo)} unchanged, to s3://{bucket}/{b.RAW_PREFIX}")
    _run_parallel(todo, ctx.sender.upload_file, "upload")
    return len(todo)


def results_location(ctx: AwsContext, run_id: Optional[str] = None) -> Tuple[str, str]:
    """(bucket, prefix) of a run's output: ``run_id``'s folder in our bucket, else the output
    of the last `submit` (wherever it went)."""
    if run_id:
        return ctx.bucket(), b.run_output_key(run_id.strip("/"))
    last = ctx.state.get("last_output")
    if not last:
        raise InputError("no run to download yet", "run `bigfruits aws submit`, or pass --run RUN_ID")
    bucket, key = b.split_s3_uri(str(last))
    return bucket, key if key.endswith("/") or not key else key + "/"


def download_results(ctx: AwsContext, dest: Path, run_id: Optional[str] = None) -> int:
    """Download one run's output (features, PCA...) to ``dest``, skipping unchanged files."""
    bucket, prefix = results_location(ctx, run_id)
    remote = list_keys(ctx, bucket, prefix)
    todo = []
    for key, meta in sorted(remote.items()):
        if key.endswith("/"):
            continue  # folder markers
        target = Path(dest) / key[len(prefix):]
        if not same_content(target, meta):
            if not ctx.dry_run:
                target.parent.mkdir(parents=True, exist_ok=True)
            todo.append((bucket, key, str(target)))
    if not remote and not ctx.dry_run:
        raise InputError(f"nothing under s3://{bucket}/{prefix}", "has that run completed? (`bigfruits aws status`)")
    ctx.echo(f"{len(todo)} to download from s3://{bucket}/{prefix} to {dest}")
    _run_parallel(todo, ctx.sender.download_file, "download")
    return len(todo)


def place_file(ctx: AwsContext, path: Path, key: str) -> str:
    """Upload one file (bootstrap script, wheel, notebook); returns its s3:// URI."""
    bucket = ctx.bucket()
    ctx.sender.upload_file(str(path), bucket, key)
    return b.s3_uri(bucket, key)
