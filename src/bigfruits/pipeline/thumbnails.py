"""A few small example images per class for ``report.html``, inlined as ``data:`` URIs so the
page stays one file a user can keep, mail or open offline.

The bytes are read on the driver by the featurize stage's own reader (``fetch.fetch_ahead``:
local files, ``s3://`` and ``s3a://`` alike, a bounded number of reads in flight). The count is
bounded too: ``per_class`` images for at most ``max_classes`` classes, each downscaled to
``size`` pixels and re-encoded as JPEG (a few KB each), so even Fruits-360's 131 classes add
well under 2 MB to the page. A class's first images in path order are tried, and a couple more
in case some cannot be decoded (those are the ones in errors/)."""
from __future__ import annotations

import base64
import io
from collections import defaultdict
from typing import Dict, Iterable, List, Optional

from bigfruits.pipeline.fetch import fetch_ahead
from bigfruits.pipeline.ingest import ImageFile
from bigfruits.pipeline.s3 import S3Settings

PER_CLASS = 4
#: classes shown at most (the per-class table lists them all)
MAX_CLASSES = 150
#: pixels of a thumbnail's longer side (Fruits-360's images are 100 x 100)
SIZE = 80
#: images tried beyond ``PER_CLASS`` in case some cannot be decoded
SPARES = 2


def candidates(images: Iterable[ImageFile], per_class: int = PER_CLASS,
               max_classes: int = MAX_CLASSES) -> List[ImageFile]:
    """The first ``per_class + SPARES`` images of each of the first ``max_classes`` classes
    (by name), in path order."""
    by_class: Dict[str, List[ImageFile]] = defaultdict(list)
    for image in sorted(images, key=lambda im: im.path):
        by_class[image.label].append(image)
    chosen = []
    for label in sorted(by_class)[:max_classes]:
        chosen += by_class[label][:per_class + SPARES]
    return chosen


def data_uri(data: bytes, size: int = SIZE) -> Optional[str]:
    """``data:image/jpeg;base64,…`` of the image ``data`` downscaled to ``size`` pixels, or
    ``None`` if it cannot be decoded."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (size, size))  # a JPEG decodes straight at a fraction of its size
            small = image.convert("RGB")
            small.thumbnail((size, size))
    except Exception:  # any undecodable file: no thumbnail, the error row says why
        return None
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def class_thumbnails(images: Iterable[ImageFile], settings: Optional[S3Settings] = None,
                     per_class: int = PER_CLASS,
                     max_classes: int = MAX_CLASSES) -> Dict[str, List[str]]:
    """class -> up to ``per_class`` ``data:`` URIs, for at most ``max_classes`` classes."""
    shown: Dict[str, List[str]] = defaultdict(list)
    rows = [(image.path, image.size, image.stamp)
            for image in candidates(images, per_class, max_classes)]
    for (path, _size, _stamp), (data, _error) in fetch_ahead(rows, settings):
        label = ImageFile(path, 0).label
        if data is None or len(shown[label]) >= per_class:
            continue
        uri = data_uri(data)
        if uri is not None:
            shown[label].append(uri)
    return {label: uris for label, uris in shown.items() if uris}
