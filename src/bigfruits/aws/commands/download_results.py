"""``download-results``: one run's output (features, PCA, report) from the bucket to a folder,
skipping files already there unchanged (``run`` downloads the same way when its step ends)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures import bucket_files


def download_results(ctx: AwsContext, dest: Path, run_id: Optional[str] = None) -> int:
    """``run_id``'s output, else the last submitted run's; the number of files downloaded."""
    return bucket_files.download_results(ctx, dest, run_id)
