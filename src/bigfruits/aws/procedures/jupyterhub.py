"""What a JupyterHub cluster gets besides the cluster itself: our notebook (pointing at the
model in the bucket) in JupyterHub's S3 folder, and a password of its own instead of the
public default: left encrypted in our bucket for a step that sets it and deletes it, and
deleted by us when no step will."""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Optional, Tuple

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.bucket_files import place_file
from bigfruits.aws.procedures.cluster_launch import START_TIMEOUT_S
from bigfruits.aws.procedures.node_files import upload_model
from bigfruits.aws.procedures.step_watch import step_named, wait_for_step
from bigfruits.aws.requests import s3
from bigfruits.aws.requests.emr import steps
from bigfruits.aws.requests.emr.flavors import JUPYTER_PERSISTENCE_PREFIX, Flavor
from bigfruits.errors import AwsError, EnvironmentProblem
from bigfruits.locations import project_root

NOTEBOOK_NAME = "bigfruits-jupyterhub.ipynb"


def notebook_path() -> Optional[Path]:
    """``notebooks/bigfruits-jupyterhub.ipynb`` of the checkout (None when installed)."""
    root = project_root()
    if root is None or not (root / "notebooks" / NOTEBOOK_NAME).is_file():
        return None
    return root / "notebooks" / NOTEBOOK_NAME


def place_model(ctx: AwsContext, precision: str = "fp32") -> Optional[str]:
    """The notebooks' model (ImageNet weights, at ``precision``) in the bucket, when this
    machine has it; else one line saying how (the cluster starts anyway: submit uploads the
    model it runs)."""
    try:
        uri = upload_model(ctx, "imagenet", 0, precision)
    except EnvironmentProblem as problem:
        ctx.echo(f"note: {problem} (the notebooks need it; submit uploads the model it runs)")
        return None
    ctx.echo(f"the notebooks run the model at {uri} (their `model` parameter)")
    return uri


def with_model(notebook: Optional[Path], model_uri: str, into: Path,
               precision: str = "fp32") -> Optional[Path]:
    """A copy of ``notebook`` in ``into`` whose parameters cell says ``model = "<model_uri>"``
    and ``precision = "<precision>"`` (the committed notebook says ``model = None`` and
    ``precision = "fp32"``)."""
    if notebook is None or not notebook.is_file():
        return notebook
    text = notebook.read_text()
    line = json.dumps("model = None")[1:-1]
    if line not in text:
        return notebook
    text = text.replace(line, json.dumps(f"model = {model_uri!r}")[1:-1], 1)
    if precision != "fp32":
        text = text.replace(json.dumps('precision = "fp32"')[1:-1], json.dumps(f"precision = {precision!r}")[1:-1], 1)
    copy = into / notebook.name
    copy.write_text(text)
    return copy


def place_notebook(ctx: AwsContext, flavor: Flavor, notebook: Optional[Path]) -> None:
    """Our notebook in JupyterHub's S3 persistence folder (the flavors that have JupyterHub)."""
    if not flavor.places_notebook:
        return
    if notebook is None or not notebook.is_file():
        ctx.echo(f"note: notebooks/{NOTEBOOK_NAME} not found: JupyterHub starts without our notebook")
        return
    uri = place_file(ctx, notebook, JUPYTER_PERSISTENCE_PREFIX + NOTEBOOK_NAME)
    ctx.echo(f"notebook placed at {uri} (JupyterHub's S3 persistence folder)")


def put_password(ctx: AwsContext) -> Tuple[str, str, str]:
    """A new random password, left encrypted in our bucket for the password step;
    (password, its object key, its s3:// URI)."""
    password = "<random-password>" if ctx.dry_run else secrets.token_urlsafe(12)
    key = s3.jupyterhub_password_key(secrets.token_hex(8))
    ctx.send(s3.put_jupyterhub_password(ctx.bucket(), key, password))
    return password, key, s3.s3_uri(ctx.bucket(), key)


def delete_password(ctx: AwsContext, key: Optional[str]) -> None:
    """Remove the JupyterHub password object when no step will (the step deletes it too)."""
    if key:
        ctx.sender.attempt(s3.delete_objects(ctx.bucket(), [key]))


def wait_for_password_step(ctx: AwsContext, cluster_id: str) -> None:
    """Until the step that replaces JupyterHub's public default password has COMPLETED; any
    other end raises (the caller terminates the cluster: no default password left reachable)."""
    step_id = step_named(ctx, cluster_id, steps.PASSWORD_STEP_NAME)
    if step_id is None:
        raise AwsError(f"cluster {cluster_id} has no step '{steps.PASSWORD_STEP_NAME}'",
                       "its JupyterHub keeps the default password: the cluster is terminated")
    answer = wait_for_step(ctx, cluster_id, step_id, START_TIMEOUT_S)
    state = answer["Step"]["Status"]["State"]
    if state != "COMPLETED":
        reason = answer["Step"]["Status"].get("FailureDetails", {}).get("Reason", "")
        raise AwsError(f"the step that sets the JupyterHub password {state}" + (f" ({reason})" if reason else ""),
                       "the cluster is terminated so its default password is never reachable; "
                       "create it again (the bootstrap log is in s3://<bucket>/logs/)")
