"""Cluster flavors as data: which applications and configurations a cluster gets.

``clusters.run_job_flow`` turns one of these into a RunJobFlow request; adding a flavor is adding
an entry here, not copying cluster code. ``{bucket}`` in a property value is filled in there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from bigfruits.aws.core.tags import EMR_MANAGED_POLICIES_TAG
from bigfruits.errors import InputError

#: The Python the bootstrap installs on every node (AL2023 ships 3.9; the package wants >= 3.9,
#: and TensorFlow's current wheels need >= 3.10), used by Spark through spark-env.
NODE_PYTHON = "/usr/bin/python3.11"
#: Where EMR's JupyterHub S3 persistence keeps a user's notebooks inside the bucket.
JUPYTER_USER = "jovyan"
JUPYTER_PERSISTENCE_PREFIX = f"jupyter/{JUPYTER_USER}/"


@dataclass(frozen=True)
class Flavor:
    name: str
    description: str
    applications: Tuple[str, ...]
    configurations: Tuple[Dict[str, Any], ...] = ()
    tags: Dict[str, str] = field(default_factory=dict)
    #: JupyterHub's default password is public knowledge: replace it with a random one.
    sets_jupyterhub_password: bool = False
    #: Our notebook is placed where the cluster's notebook server will find it.
    places_notebook: bool = False
    #: Workspaces attach only to clusters in their Studio's VPC: start in the Studio's subnet.
    joins_studio_network: bool = False


#: A Livy session (each open notebook's kernel) is a running YARN application, and EMR counts a
#: cluster with an active YARN application as busy, so its idle auto-termination never starts
#: while a session lives ("A cluster is considered idle when ... No active YARN applications",
#: https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-auto-termination-policy.html).
#: Livy ends a session after this long without a statement; a notebook left open therefore
#: bills for this long, then the cluster's --idle-timeout. ``skip-busy``: a cell still running
#: (a long pipeline run) is never ended for it (LIVY-547; Livy 0.7+, EMR 7 ships 0.8.0).
#: JupyterHub: 2 h (the cost of a forgotten notebook, ~9 h with Livy's 8 h, is the user's);
#: Studio: 8 h, what AWS recommends for Studio's kernels (a session ended loses its variables):
#: https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-studio-spark-optimization.html
JUPYTERHUB_LIVY_TIMEOUT, STUDIO_LIVY_TIMEOUT = "2h", "8h"


def livy_conf(timeout: str, **more: str) -> Dict[str, Any]:
    return {"Classification": "livy-conf",
            "Properties": {"livy.server.session.timeout": timeout,
                           "livy.server.session.timeout-check.skip-busy": "true", **more}}


def livy_session_timeout(flavor: "Flavor") -> Optional[str]:
    """How long a notebook's idle Livy session (hence the cluster) lives, or None without Livy."""
    for conf in flavor.configurations:
        if conf.get("Classification") == "livy-conf":
            return str(conf["Properties"]["livy.server.session.timeout"])
    return None


def spark_env() -> Dict[str, Any]:
    """Every flavor runs our package under Spark with the Python the bootstrap installed."""
    return {
        "Classification": "spark-env",
        "Properties": {},
        "Configurations": [
            {
                "Classification": "export",
                "Properties": {"PYSPARK_PYTHON": NODE_PYTHON, "PYSPARK_DRIVER_PYTHON": NODE_PYTHON},
            }
        ],
    }


FLAVORS: Dict[str, Flavor] = {
    "jupyterhub": Flavor(
        name="jupyterhub",
        description="JupyterHub on the master (SSH tunnel to 9443), notebooks kept in S3",
        # The notebook runs in JupyterHub's PySpark kernel, which is sparkmagic: it sends each cell
        # to Livy on the master, so the cluster needs Livy (EMR's JupyterHub image has no Spark of
        # its own). https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-jupyterhub-user-impersonation.html
        applications=("Hadoop", "Spark", "Livy", "JupyterHub"),
        configurations=(
            spark_env(),
            livy_conf(JUPYTERHUB_LIVY_TIMEOUT),
            {
                "Classification": "jupyter-s3-conf",
                "Properties": {
                    "s3.persistence.enabled": "true",
                    "s3.persistence.bucket": "{bucket}",
                },
            },
        ),
        sets_jupyterhub_password=True,
        places_notebook=True,
    ),
    "studio": Flavor(
        name="studio",
        description="for EMR Studio workspaces (Livy + Jupyter Enterprise Gateway)",
        applications=("Spark", "Livy", "JupyterEnterpriseGateway"),
        configurations=(
            spark_env(),
            # Studio kernels are Livy sessions: Spark sessions in cluster mode put each session's
            # driver on a core node, and the primary node keeps its memory for Livy and the
            # gateway (our bootstrap installs the same Python on every node). AWS recommends it
            # for Studio's clusters, with this very livy-conf ("Cluster requirements for Amazon
            # EMR Studio": "Set deploy mode for Spark sessions to cluster mode"):
            # https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-studio-considerations.html
            # (emr-studio-spark-optimization.html's "cluster mode" is about Spark *steps*.)
            livy_conf(STUDIO_LIVY_TIMEOUT, **{"livy.spark.deploy-mode": "cluster"}),
        ),
        # EMR Studio's managed policies only act on resources carrying this tag.
        tags={EMR_MANAGED_POLICIES_TAG: "true"},
        joins_studio_network=True,
    ),
}


#: A batch run's cluster (``bigfruits aws run``): Spark and our package, no notebook server;
#: not offered to create-cluster, since it ends with its one step.
BATCH = Flavor(
    name="batch",
    description="a batch run: the pipeline step, then the cluster terminates itself",
    applications=("Hadoop", "Spark"),
    configurations=(spark_env(),),
)


def get_flavor(name: str) -> Flavor:
    try:
        return FLAVORS[name]
    except KeyError:
        raise InputError(
            f"unknown cluster flavor {name!r}", f"choose one of: {', '.join(sorted(FLAVORS))}"
        ) from None


def fill(value: Any, values: Dict[str, str]) -> Any:
    """Fill ``{name}`` placeholders in every string of a nested configuration."""
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [fill(v, values) for v in value]
    return value


def configurations(flavor: Flavor, bucket: str) -> List[Dict[str, Any]]:
    return fill(list(flavor.configurations), {"bucket": bucket})
