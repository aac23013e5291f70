"""Which wheels a *target* Python needs, read from the wheels' own metadata.

Why: ``pip download --python-version 3.9`` picks wheels for 3.9 but evaluates environment
markers for the Python running pip (https://github.com/pypa/pip/issues/11664). Run from Python
3.11, it leaves out ``tomli; python_version < "3.11"`` (ours) and matplotlib's
``importlib-resources; python_version < "3.10"``, so a wheelhouse "for 3.9" is not one. Here the
``Requires-Dist`` of every wheel is followed from our wheel with the markers evaluated for the
target (CPython X.Y on manylinux x86_64): what is missing is named, to be downloaded, and the
closure found is exactly what the target installs.
"""
from __future__ import annotations

import email.parser
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from bigfruits.errors import EnvironmentProblem

#: Part of every wheelhouse's cache key: wheelhouses made before markers were read for the
#: target (pip's own choice, for the Python running it) are not taken from the cache.
FORMAT = "closure-for-target-1"
#: Rounds of "download again with what was missing, look again" before giving up.
MAX_ROUNDS = 5


def target_environment(python_version: str) -> Dict[str, str]:
    """PEP 508 marker values of CPython ``python_version`` on Linux x86_64 (the image's)."""
    full = f"{python_version}.0"
    return {"implementation_name": "cpython", "implementation_version": full, "os_name": "posix",
            "platform_machine": "x86_64", "platform_python_implementation": "CPython",
            "platform_release": "", "platform_system": "Linux", "platform_version": "",
            "python_full_version": full, "python_version": python_version, "sys_platform": "linux"}


@dataclass(frozen=True)
class Dist:
    """One wheel: its file, version and ``Requires-Dist`` lines."""

    path: Path
    version: str
    requires: Tuple[str, ...]


def read_dist(wheel: Path) -> Dist:
    name, version, _, _ = parse_wheel_filename(wheel.name)
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist()
                      if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        message = email.parser.Parser().parsestr(archive.read(metadata).decode("utf-8"))
    return Dist(wheel, str(version), tuple(message.get_all("Requires-Dist") or ()))


@dataclass
class Closure:
    """The wheels the target installs, and what it needs that the folder lacks (requirement
    strings without their markers, ready for ``pip download``)."""

    wheels: List[Path] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)


def _applies(requirement: Requirement, environment: Dict[str, str], extras: FrozenSet[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""}))


def _best(candidates: List[Dist], requirement: Requirement) -> Optional[Dist]:
    """The newest wheel of the folder that satisfies ``requirement``."""
    fitting = [d for d in candidates if requirement.specifier.contains(d.version, prereleases=True)]
    return max(fitting, key=lambda d: Version(d.version), default=None)


def closure(folder: Path, root: str, python_version: str) -> Closure:
    """Follow ``root`` (``"bigfruits[node]"``) through the wheels in ``folder`` for the target."""
    dists: Dict[str, List[Dist]] = {}
    for path in sorted(folder.glob("*.whl")):
        dists.setdefault(canonicalize_name(parse_wheel_filename(path.name)[0]), []).append(read_dist(path))
    environment = target_environment(python_version)
    found = Closure()
    chosen: Dict[str, Dist] = {}
    todo: List[Requirement] = [Requirement(root)]
    seen: Set[Tuple[str, FrozenSet[str]]] = set()
    while todo:
        requirement = todo.pop()
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        dist = chosen.get(name) or _best(dists.get(name, []), requirement)
        if dist is None or not requirement.specifier.contains(dist.version, prereleases=True):
            requirement.marker = None
            found.missing.append(str(requirement))
            continue
        chosen[name] = dist
        if (name, extras) not in seen:
            seen.add((name, extras))
            todo += [dep for dep in map(Requirement, dist.requires) if _applies(dep, environment, extras)]
    found.wheels = sorted({d.path for d in chosen.values()})
    return found


def complete(root: str, python_version: str, download: Callable[[Sequence[str], Path], None],
             scratch: Path) -> Tuple[Path, Closure]:
    """``download(more, folder)`` fetches our wheel's closure (plus ``more`` top-level
    requirements) into a fresh folder; then again with what the target's closure lacked as
    ``more`` (so pip's resolver fits them with the rest: botocore wants
    urllib3<1.27 on 3.9 only), until nothing is missing; that folder and its closure."""
    extra: List[str] = []
    for attempt in range(MAX_ROUNDS):
        folder = scratch / f"round-{attempt}"
        download(extra, folder)
        found = closure(folder, root, python_version)
        if not found.missing:
            return folder, found
        extra = sorted(set(extra) | set(found.missing))
    raise EnvironmentProblem(
        f"the packages for Python {python_version} stay incomplete: {', '.join(sorted(found.missing))}",
        "check that these have wheels for CPython on manylinux x86_64 under the constraints")
