"""Find the images, label them by folder, select part of a dataset, and hand them to the
featurize stage as rows of ``(path, size, stamp)``.

The listing is the ground truth that every input is accounted for against: local folders with
Python's own walk, ``s3://``/``s3a://`` prefixes with boto3 (1,000 keys a request, with each
object's size and ETag), any other Hadoop file system through Hadoop. The featurize stage reads
the bytes itself from these rows (``fetch.py``: one GET per image, many in flight), so neither
Spark's ``binaryFile`` (which dropped zero-byte files and made two HEADs per image on S3) nor
Hadoop's S3 connector is on the read path.
"""
from __future__ import annotations

import fnmatch
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlparse

from bigfruits.errors import EnvironmentProblem, InputError
from bigfruits.pipeline.hadoop_fs import hadoop_path, is_local, list_files
from bigfruits.pipeline.s3 import is_s3, list_objects

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: binaryFile's own filter, case-insensitive (Hadoop glob syntax)
IMAGE_GLOB = "*.{[jJ][pP][gG],[jJ][pP][eE][gG],[pP][nN][gG]}"


@dataclass(frozen=True)
class ImageFile:
    """One input image: its fully qualified path (as Spark writes it), size, label, and
    ``stamp``, what says the content changed without reading it: the modification time in
    nanoseconds for a local file (``mtime:…``), the ETag on S3 (``etag:…``), Hadoop's
    modification time in milliseconds elsewhere (``mtime_ms:…``). Path, size and stamp are the
    input's identity for ``--reuse``."""

    path: str
    size: int
    stamp: str = ""

    @property
    def label(self) -> str:
        return label_of(self.path)


@dataclass(frozen=True)
class Listing:
    """What was found under the input: the images, and what was passed over and why."""

    root: str
    images: List[ImageFile]
    skipped: Dict[str, int]
    #: images directly in the input folder (labelled by its name, not by a class folder)
    unfoldered: int = 0


#: the class of an image is its parent folder's name (``.../Test/Apple Red 1/x.jpg``); one
#: pattern for the driver (``label_of``) and for Spark (``regexp_extract`` in featurize)
LABEL_PATTERN = r"([^/]+)/[^/]*$"


def label_of(path: str) -> str:
    match = re.search(LABEL_PATTERN, path.rstrip("/"))
    return match.group(1) if match else ""


def input_not_found(uri: str) -> InputError:
    return InputError(f"input not found: {uri}", "pass --input a folder of images "
                      "(<split>/<class>/<image>.jpg), or omit it for the bundled sample")


def skip_reason(relative: str) -> Optional[str]:
    """Why a file under the input is not an input image, or ``None`` if it is one.

    Spark ignores every path with a part starting with ``.`` or ``_`` (hidden files, macOS
    ``._x.jpg`` companions, ``_SUCCESS``), so we ignore them too, and say how many.
    """
    parts = relative.split("/")
    if any(part.startswith((".", "_")) for part in parts):
        return "hidden (a path part starts with '.' or '_')"
    if not parts[-1].lower().endswith(IMAGE_EXTENSIONS):
        return "not .jpg/.jpeg/.png"
    return None


Entry = Tuple[str, int, str]  # path, size, stamp (see ImageFile)


def walk_local(root: str) -> Iterator[Entry]:
    """``(path, size, stamp)`` below a local folder, paths written as Hadoop writes them
    (``file:/…``)."""
    for folder, _dirs, files in os.walk(root, followlinks=True):
        for name in files:
            path = os.path.join(folder, name)
            try:
                status = os.stat(path)
                size, stamp = status.st_size, f"mtime:{status.st_mtime_ns}"
            except OSError:  # a dangling link: Spark could not read it either
                size, stamp = 0, ""
            yield "file:" + path, size, stamp


def walk_hadoop(fs: Any, root: Any) -> Iterator[Entry]:
    """Any other Hadoop file system, one status at a time (several py4j calls per file)."""
    for status in list_files(fs, root):
        yield (status.getPath().toString(), int(status.getLen()),
               f"mtime_ms:{status.getModificationTime()}")


def listed_without_spark(input_uri: str) -> bool:
    """Local folders and S3 prefixes are listed in Python (os.walk, boto3), before Spark starts:
    a wrong ``--input`` or ``--classes`` then fails in a second; other file systems need Hadoop."""
    return is_s3(input_uri) or is_local(input_uri)


def list_entries(spark: Any, input_uri: str) -> Tuple[str, List[Entry]]:
    """``(root, entries)``: an S3 prefix is listed with boto3 alone (no Hadoop connector needed
    to read from S3), a local folder with Python's walk (``spark`` may then be None), anything
    else through Hadoop's qualified path."""
    try:
        if is_s3(input_uri):
            root_text = input_uri.rstrip("/")
            entries = list(list_objects(root_text))
            if not entries:
                raise input_not_found(input_uri)
            return root_text, entries
        if is_local(input_uri):
            folder = os.path.abspath(urlparse(input_uri).path if input_uri.startswith("file:") else input_uri)
            if not os.path.exists(folder):
                raise input_not_found(input_uri)
            return "file:" + folder.rstrip("/"), list(walk_local(folder))
        fs, root = hadoop_path(spark, input_uri)
        if not fs.exists(root):
            raise input_not_found(input_uri)
        root_text = root.toString().rstrip("/")
        return root_text, list(walk_hadoop(fs, root))
    except (InputError, EnvironmentProblem):
        raise
    except Exception as exc:  # credentials, bucket in another region, ...
        todo = ("configure AWS credentials (`aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY)" if type(exc).__name__ == "NoCredentialsError"
                else "check the path and your access to it")
        raise InputError(f"cannot read {input_uri}: {str(exc).splitlines()[0][:200]}", todo) from None


def list_images(spark: Any, input_uri: str) -> Listing:
    """Every image below ``input_uri`` (recursively), zero-byte files included, sorted by path."""
    root_text, entries = list_entries(spark, input_uri)
    images: List[ImageFile] = []
    skipped: Dict[str, int] = defaultdict(int)
    unfoldered = 0
    for path, size, stamp in entries:
        relative = path[len(root_text):].lstrip("/") if path.startswith(root_text) else path
        reason = skip_reason(relative)
        if reason:
            skipped[reason] += 1
        else:
            images.append(ImageFile(path, size, stamp))
            unfoldered += "/" not in relative
    if not images:
        raise InputError(f"no images found in {input_uri}",
                         "expected .jpg/.jpeg/.png files in <split>/<class>/ folders")
    images.sort(key=lambda image: image.path)
    return Listing(root_text, images, dict(skipped), unfoldered)


def unfoldered_note(listing: Listing) -> str:
    """One line when images sit directly in the input folder: they are labelled by its name."""
    if not listing.unfoldered:
        return ""
    return (f"{listing.unfoldered} images are directly in {listing.root}, so their class is that "
            f"folder's name ({label_of(listing.root + '/x')!r}): classes come from folder names "
            "(<class>/<image>.jpg)")


def select_images(images: List[ImageFile], classes: Optional[str] = None,
                  limit: Optional[int] = None) -> List[ImageFile]:
    """Keep the classes matching ``classes`` (comma-separated globs, e.g. ``Apple*``), then at
    most ``limit`` images spread evenly over the classes (round robin in path order), so
    ``--limit 300`` is a small but representative run rather than the first three classes."""
    selected = images
    if classes:
        patterns = [p.strip() for p in classes.split(",") if p.strip()]
        selected = [im for im in images if any(fnmatch.fnmatchcase(im.label, p) for p in patterns)]
        if not selected:
            known = sorted({im.label for im in images})
            shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
            raise InputError(f"no class matches --classes {classes!r}",
                             f"class names are folder names, e.g. {shown}")
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be at least 1 (got {limit})", "pass a positive number")
        by_class: Dict[str, List[ImageFile]] = defaultdict(list)
        for image in selected:
            by_class[image.label].append(image)
        round_robin = [im for row in zip_longest(*(by_class[c] for c in sorted(by_class)))
                       for im in row if im is not None]
        selected = sorted(round_robin[:limit], key=lambda image: image.path)
    return selected


IMAGES_SCHEMA = "path string, size long, stamp string"


def images_frame(spark: Any, selected: List[ImageFile], tasks: int) -> Any:
    """``DataFrame[path, size, stamp]`` of the selected images in ``tasks`` partitions: what
    the featurize stage reads the bytes from (made on the driver, sent to the JVM as Arrow)."""
    import pandas as pd

    from bigfruits.pipeline.session import local_frame

    frame = pd.DataFrame({"path": [image.path for image in selected],
                          "size": [image.size for image in selected],
                          "stamp": [image.stamp for image in selected]})
    return local_frame(spark, frame, IMAGES_SCHEMA).repartition(max(1, tasks))
