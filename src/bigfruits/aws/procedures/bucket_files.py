"""Files in our bucket: whether a bucket is ours, what is under a prefix, one file placed,
many transferred in parallel with one progress bar, skipping what is already the same."""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from tqdm import tqdm

from bigfruits.aws.core import state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.tags import is_ours
from bigfruits.aws.requests import s3
from bigfruits.errors import InputError

TRANSFER_WORKERS = 8


def bucket_is_ours(ctx: AwsContext, name: str) -> bool:
    tagging = ctx.sender.attempt(s3.get_bucket_tagging(name), "NoSuchTagSet", "NoSuchTagSetError")
    return bool(tagging) and is_ours(tagging.get("TagSet", []), ctx.settings.project)


def list_keys(ctx: AwsContext, bucket: str, prefix: str) -> Dict[str, Tuple[int, str]]:
    """key -> (size, ETag without quotes), every page."""
    return {obj["Key"]: (int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
            for obj in ctx.sender.paged(s3.list_objects(bucket, prefix), "Contents")}


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
    """Every file below ``root``, in name order (which of them to send is the caller's choice)."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path


def run_parallel(jobs: List[Tuple[str, str, str]], work: Callable[[str, str, str], None],
                 label: str) -> None:
    """Transfers in parallel (they wait on the network), with one progress bar."""
    with tqdm(total=len(jobs), unit="file", desc=label, disable=None) as bar:
        with ThreadPoolExecutor(max_workers=TRANSFER_WORKERS) as pool:
            for _ in pool.map(lambda job: work(*job), jobs):
                bar.update(1)


def place_file(ctx: AwsContext, path: Path, key: str) -> str:
    """Upload one file (bootstrap script, wheel, notebook); returns its s3:// URI."""
    bucket = ctx.bucket()
    ctx.sender.upload_file(str(path), bucket, key)
    return s3.s3_uri(bucket, key)


def place_once(ctx: AwsContext, path: Path, key: str) -> str:
    """Upload unless the key is there already (a key named by its content); its s3:// URI."""
    if key in list_keys(ctx, ctx.bucket(), key):
        return s3.s3_uri(ctx.bucket(), key)
    return place_file(ctx, path, key)


def results_location(ctx: AwsContext, run_id: Optional[str] = None) -> Tuple[str, str]:
    """(bucket, prefix) of a run's output: ``run_id``'s folder in our bucket, else the output
    of the last `submit` or `run` (wherever it went)."""
    if run_id:
        return ctx.bucket(), s3.run_output_key(run_id.strip("/"))
    last = ctx.state.get(state.LAST_OUTPUT)
    if not last:
        raise InputError("no run to download yet", "run `bigfruits aws submit`, or pass --run RUN_ID")
    bucket, key = s3.split_s3_uri(str(last))
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
    run_parallel(todo, ctx.sender.download_file, "download")
    return len(todo)
