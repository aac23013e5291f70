"""Cluster flavors as data: which applications and configurations a cluster gets.

``clusters.run_job_flow`` turns one of these into a RunJobFlow request; adding a flavor is adding
an entry here, not copying cluster code. ``{bucket}`` in a property value is filled in there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

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
            # Livy's default 1h session timeout loses a notebook's state over a long run.
            # https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-studio-spark-optimization.html
            {"Classification": "livy-conf", "Properties": {"livy.server.session.timeout": "8h"}},
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
            # Studio kernels are Livy sessions: AWS recommends an 8h session timeout (the default
            # 1h loses work) and Spark in cluster mode, so drivers run on core nodes and the
            # primary node keeps its memory for Livy and the gateway (our bootstrap installs the
            # same Python on every node). EMR 7 ships Livy 0.8.0-incubating.
            # https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-studio-spark-optimization.html
            {"Classification": "livy-conf", "Properties": {"livy.server.session.timeout": "8h",
                                                           "livy.spark.deploy-mode": "cluster"}},
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
