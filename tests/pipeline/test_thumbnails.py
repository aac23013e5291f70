"""The report's example images: a few per class, read by the featurize stage's own reader from
a local folder and from S3 (the moto server), an undecodable image passed over, the count
bounded."""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import List

import pytest
from PIL import Image

from bigfruits.pipeline.ingest import ImageFile, list_images
from bigfruits.pipeline.s3 import S3Settings, list_objects
from bigfruits.pipeline.thumbnails import SPARES, candidates, class_thumbnails
from tests.support.aws.server import aws_env, boto, moto_tls, moto_url  # noqa: F401 (fixtures)


def jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), (shade, 255 - shade, 90)).save(out, format="JPEG")
    return out.getvalue()


def shades(uris: List[str]) -> List[int]:
    """The red channel of each thumbnail: which image it was made from."""
    found = []
    for uri in uris:
        with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as image:
            found.append(round(image.convert("RGB").getpixel((40, 40))[0] / 10) * 10)
    return found


def dataset(root: Path) -> None:
    """Kiwi: a broken image first, then six good ones; Apple: two; Empty: only a broken one."""
    for folder in ("Kiwi", "Apple", "Empty"):
        (root / "Test" / folder).mkdir(parents=True)
    (root / "Test" / "Kiwi" / "0-broken.jpg").write_bytes(jpeg(10)[:300])
    for i in range(6):
        (root / "Test" / "Kiwi" / f"{i + 1}.jpg").write_bytes(jpeg(20 + 30 * i))
    for i in range(2):
        (root / "Test" / "Apple" / f"{i}.jpg").write_bytes(jpeg(200 + 20 * i))
    (root / "Test" / "Empty" / "x.jpg").write_bytes(b"not an image")


@pytest.mark.pure
def test_candidates_are_the_first_images_of_each_class_bounded():
    images = [ImageFile(f"file:/in/{label}/{i:02d}.jpg", 10) for label in "cab" for i in range(9)]
    chosen = candidates(images, per_class=2, max_classes=2)
    assert [image.path for image in chosen] == (
        [f"file:/in/a/{i:02d}.jpg" for i in range(2 + SPARES)]
        + [f"file:/in/b/{i:02d}.jpg" for i in range(2 + SPARES)])


@pytest.mark.pure
def test_local_thumbnails_pass_over_a_broken_image_and_keep_per_class(tmp_path):
    dataset(tmp_path)
    images = [ImageFile("file:" + str(p), p.stat().st_size) for p in sorted(tmp_path.rglob("*.jpg"))]
    shown = class_thumbnails(images, per_class=4)
    assert sorted(shown) == ["Apple", "Kiwi"]  # Empty: nothing decodes
    assert shades(shown["Kiwi"]) == [20, 50, 80, 110]  # the broken first one passed over
    assert shades(shown["Apple"]) == [200, 220]
    assert all(uri.startswith("data:image/jpeg;base64,") for uri in shown["Kiwi"])


def test_thumbnails_from_s3_through_the_same_reader(aws_env, tmp_path):
    dataset(tmp_path / "local")
    s3 = boto("s3")
    s3.create_bucket(Bucket="thumbs", CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    for path in (tmp_path / "local").rglob("*.jpg"):
        key = "raw/" + path.relative_to(tmp_path / "local").as_posix()
        s3.put_object(Bucket="thumbs", Key=key, Body=path.read_bytes())
    images = [ImageFile(path, size, stamp) for path, size, stamp in list_objects("s3a://thumbs/raw")]
    shown = class_thumbnails(images, S3Settings.from_environment(), per_class=4)
    assert shades(shown["Kiwi"]) == [20, 50, 80, 110]
    assert shades(shown["Apple"]) == [200, 220]


def test_the_listing_and_the_thumbnails_agree_on_labels(spark, tmp_path):
    dataset(tmp_path)
    listing = list_images(spark, str(tmp_path))
    assert set(class_thumbnails(listing.images)) == {"Apple", "Kiwi"}
