"""Resource kinds that ``destroy`` knows, in the order they must go (a cluster before the
security group it uses, an instance profile before its role, the bucket last).

Another area adds its own kinds with ``register`` (e.g. EMR Studio at order 5, before the
clusters it attaches to; its security groups around 35), and ``destroy`` handles them too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List

from bigfruits.aws.context import AwsContext


@dataclass(frozen=True)
class ResourceKind:
    #: the key in the state file (``ctx.state.add(name, id)``)
    name: str
    #: lower goes first
    order: int
    #: ids of live resources of ours found from tags/paths (works without the state file)
    discover: Callable[[AwsContext], List[str]]
    #: removes one (waiting if it must); tolerates "already gone"
    remove: Callable[[AwsContext, str], None]
    #: ask before removing (data lives there)
    needs_confirmation: bool = False


_REGISTRY: Dict[str, ResourceKind] = {}


def register(kind: ResourceKind) -> ResourceKind:
    _REGISTRY[kind.name] = kind
    return kind


def kinds_in_destroy_order() -> List[ResourceKind]:
    return sorted(_REGISTRY.values(), key=lambda k: (k.order, k.name))


def get_kind(name: str) -> ResourceKind:
    return _REGISTRY[name]
