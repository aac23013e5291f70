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
from bigfruits.errors import AwsError, InputError
from bigfruits.locations import NOTEBOOKS_DIR

NOTEBOOK_NAME = "bigfruits-jupyterhub.ipynb"


def notebook_path() -> Path:
    """Our JupyterHub notebook, shipped in the package (installed or not)."""
    return NOTEBOOKS_DIR / NOTEBOOK_NAME


def check_notebook(notebook: Path) -> None:
    """Before any request: the notebook to place exists (``--notebook``, else ours)."""
    if not notebook.is_file():
        raise InputError(f"notebook {notebook} not found",
                         "pass --notebook PATH to an .ipynb file, or leave it out to place ours")


def place_model(ctx: AwsContext) -> str:
    """The notebooks' model (ImageNet weights) in the bucket; its s3:// URI."""
    uri = upload_model(ctx)
    ctx.echo(f"the notebooks run the model at {uri} (their `model` parameter)")
    return uri


def with_model(notebook: Path, model_uri: Optional[str], into: Path) -> Path:
    """A copy of ``notebook`` in ``into`` whose parameters cell says ``model = "<model_uri>"``
    (ours says ``model = None``); the notebook itself when there is no model or no such line."""
    text = notebook.read_text()
    line = json.dumps("model = None")[1:-1]
    if model_uri is None or line not in text:
        return notebook
    copy = into / notebook.name
    copy.write_text(text.replace(line, json.dumps(f"model = {model_uri!r}")[1:-1], 1))
    return copy


def place_notebook(ctx: AwsContext, flavor: Flavor, notebook: Path) -> None:
    """The notebook in JupyterHub's S3 persistence folder (the flavors that have JupyterHub)."""
    if not flavor.places_notebook:
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
