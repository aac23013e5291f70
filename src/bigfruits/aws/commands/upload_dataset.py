"""``upload-dataset``: the images of a local tree to ``raw/``, skipping files already there
unchanged; what is not an input image (a README, a LICENSE, hidden files) stays here, said in
one line: the pipeline's own rule (``ingest.skip_reason``) decides."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.bucket_files import list_keys, local_files, run_parallel, same_content
from bigfruits.aws.requests import s3
from bigfruits.errors import InputError
from bigfruits.locations import BUNDLED_SAMPLE
from bigfruits.pipeline.ingest import skip_reason


def upload_dataset(ctx: AwsContext, path: Optional[Path] = None) -> int:
    """Upload a local image tree to ``raw/`` (by default the bundled sample); files already
    there unchanged are skipped."""
    root = Path(path) if path else BUNDLED_SAMPLE
    if not root.is_dir():
        raise InputError(f"dataset folder {root} not found", "pass the folder to upload (e.g. fruits-360/Test)")
    files, skipped = [], Counter()
    for path in local_files(root):
        reason = skip_reason(path.relative_to(root).as_posix())
        if reason:
            skipped[reason] += 1
        else:
            files.append(path)
    if not files:
        raise InputError(f"dataset folder {root} has no images",
                         "pass a folder of .jpg/.jpeg/.png images in <class>/ folders")
    if skipped:
        ctx.echo("not uploaded (not input images): " + ", ".join(
            f"{count} {reason}" for reason, count in sorted(skipped.items())))
    bucket = ctx.bucket()
    remote = list_keys(ctx, bucket, s3.RAW_PREFIX)
    todo = []
    for f in files:
        key = s3.RAW_PREFIX + f.relative_to(root).as_posix()
        if not same_content(f, remote.get(key)):
            todo.append((str(f), bucket, key))
    ctx.echo(f"{len(todo)} to upload, {len(files) - len(todo)} unchanged, to s3://{bucket}/{s3.RAW_PREFIX}")
    run_parallel(todo, ctx.sender.upload_file, "upload")
    return len(todo)
