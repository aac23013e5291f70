"""Listing, labels and selection."""
from __future__ import annotations

import os

import pytest

from bigfruits.errors import InputError
from bigfruits.pipeline.ingest import (ImageFile, label_of, list_images, select_images,
                                       skip_reason)


def images(spec):
    return [ImageFile(f"file:/d/Test/{label}/{i:03d}.jpg", 10) for label, n in spec for i in range(n)]


@pytest.mark.pure
def test_label_is_the_parent_folder_with_spaces_and_digits():
    assert label_of("s3://b/raw/Test/Apple Red 1/r_32_100.jpg") == "Apple Red 1"
    assert label_of("file:/x/Training/Pêche é/ü.jpg") == "Pêche é"


@pytest.mark.pure
def test_skip_reasons():
    assert skip_reason("Test/Kiwi/a.JPG") is None
    assert skip_reason("Test/Kiwi/a.jpeg") is None
    assert skip_reason("Test/Kiwi/a.Png") is None
    assert skip_reason("Test/Kiwi/notes.txt") == "not .jpg/.jpeg/.png"
    assert "hidden" in skip_reason("Test/Kiwi/._a.jpg")
    assert "hidden" in skip_reason("_tmp/Kiwi/a.jpg")


@pytest.mark.pure
def test_classes_glob_and_comma_list():
    files = images([("Apple Braeburn", 3), ("Apple Red 1", 2), ("Kiwi", 4)])
    assert {f.label for f in select_images(files, classes="Apple*")} == {"Apple Braeburn", "Apple Red 1"}
    assert len(select_images(files, classes="Kiwi, Apple Red 1")) == 6


@pytest.mark.pure
def test_limit_spreads_over_classes_in_path_order():
    files = images([("A", 10), ("B", 10), ("C", 2)])
    picked = select_images(files, limit=7)
    counts = {label: sum(f.label == label for f in picked) for label in "ABC"}
    assert counts == {"A": 3, "B": 2, "C": 2}  # round robin A0 B0 C0 A1 B1 C1 A2
    assert picked == sorted(picked, key=lambda f: f.path)
    assert select_images(files, limit=7) == picked  # deterministic


@pytest.mark.pure
def test_selection_errors_are_user_errors():
    files = images([("Kiwi", 2)])
    with pytest.raises(InputError, match="no class matches"):
        select_images(files, classes="Banana*")
    with pytest.raises(InputError, match="at least 1"):
        select_images(files, limit=0)


def test_listing_sees_zero_byte_files_and_skips_hidden(spark, tmp_path):
    (tmp_path / "Test" / "Kiwi").mkdir(parents=True)
    (tmp_path / "Test" / "Kiwi" / "a.jpg").write_bytes(b"x" * 10)
    (tmp_path / "Test" / "Kiwi" / "empty.jpg").write_bytes(b"")
    (tmp_path / "Test" / "Kiwi" / "._a.jpg").write_bytes(b"junk")
    (tmp_path / "Test" / "Kiwi" / "notes.txt").write_text("hi")
    listing = list_images(spark, str(tmp_path))
    assert [(f.path.rsplit("/", 1)[1], f.size) for f in listing.images] == [("a.jpg", 10), ("empty.jpg", 0)]
    assert sum(listing.skipped.values()) == 2
    assert listing.images[0].path.startswith("file:/")


def test_listing_errors(spark, tmp_path):
    with pytest.raises(InputError, match="input not found"):
        list_images(spark, str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images found"):
        list_images(spark, str(tmp_path / "empty"))


@pytest.mark.pure
def test_listing_without_spark_sizes_sorts_skips_and_counts(tmp_path):
    """Protects the listing (the images the run accounts for): every image below the input
    (recursively, through Hadoop's Path for the root), zero-byte ones included with their
    size, sorted by path, labels from the parent folder, and what was skipped counted by
    reason. Hadoop's FileSystem is the local-folder fake of tests/support/spark/hadoop_fs.py."""
    from tests.support.spark.hadoop_fs import ObjectStoreFs, fake_spark

    kiwi, mango = tmp_path / "Test" / "Kiwi", tmp_path / "Test" / "Mango"
    for folder in (kiwi, mango):
        folder.mkdir(parents=True)
    (mango / "b.PNG").write_bytes(b"xyz")
    (kiwi / "a.jpg").write_bytes(b"x" * 10)
    (kiwi / "empty.jpeg").write_bytes(b"")
    (kiwi / "._a.jpg").write_bytes(b"junk")
    (kiwi / "notes.txt").write_text("n")
    (tmp_path / "_SUCCESS").write_text("")
    listing = list_images(fake_spark(ObjectStoreFs()), str(tmp_path) + "/")
    assert listing.root == f"file:{tmp_path}"
    assert [(f.path, f.size, f.label) for f in listing.images] == [
        (f"file:{kiwi}/a.jpg", 10, "Kiwi"), (f"file:{kiwi}/empty.jpeg", 0, "Kiwi"),
        (f"file:{mango}/b.PNG", 3, "Mango")]
    assert listing.skipped == {"hidden (a path part starts with '.' or '_')": 2, "not .jpg/.jpeg/.png": 1}


@pytest.mark.pure
def test_listing_errors_without_spark(tmp_path):
    """Protects the user's messages: a missing input, an input without images, an unreadable
    one are each one clear error; an S3 input needs no Hadoop connector."""
    from tests.support.spark.hadoop_fs import FakePath, ObjectStoreFs, fake_spark

    spark = fake_spark(ObjectStoreFs())
    with pytest.raises(InputError) as missing:
        list_images(spark, str(tmp_path / "nope"))
    assert missing.value.what == f"input not found: {tmp_path / 'nope'}"
    (tmp_path / "Test" / "Kiwi").mkdir(parents=True)
    (tmp_path / "Test" / "Kiwi" / "notes.txt").write_text("n")
    with pytest.raises(InputError, match="^no images found in "):
        list_images(spark, str(tmp_path))

    class Unreadable(ObjectStoreFs):
        def exists(self, path):  # type: ignore[no-untyped-def]
            raise RuntimeError("AccessDenied: no\nstack trace")

    with pytest.raises(InputError) as denied:  # a file system listed through Hadoop
        list_images(fake_spark(Unreadable()), "hdfs://nn:8020/data")
    assert denied.value.what == "cannot read hdfs://nn:8020/data: AccessDenied: no"

    def no_connector(self, conf):  # type: ignore[no-untyped-def]
        raise RuntimeError("UnsupportedFileSystemException: No FileSystem for scheme \"s3a\"")

    # S3 is listed (and read) with boto3: no Hadoop connector is needed for an S3 input
    from bigfruits.pipeline import ingest

    original, original_s3 = FakePath.getFileSystem, ingest.list_objects
    FakePath.getFileSystem = no_connector
    ingest.list_objects = lambda uri: iter([(uri + "/Test/Kiwi/a.jpg", 3, "etag:e")])
    try:
        listing = list_images(fake_spark(ObjectStoreFs()), "s3a://bucket/raw/")
        ingest.list_objects = lambda uri: iter([])
        with pytest.raises(InputError) as empty:
            list_images(fake_spark(ObjectStoreFs()), "s3a://bucket/raw/")
    finally:
        FakePath.getFileSystem, ingest.list_objects = original, original_s3
    assert [image.path for image in listing.images] == ["s3a://bucket/raw/Test/Kiwi/a.jpg"]
    assert empty.value.what == "input not found: s3a://bucket/raw/"


@pytest.mark.pure
def test_label_edge_cases():
    """Protects labels: a trailing slash is ignored, a bare file name has no label."""
    assert label_of("s3://b/raw/Test/Kiwi/") == "Test"
    assert label_of("file:/d/Test/Kiwi/a.jpg//") == "Kiwi"
    assert label_of("a.jpg") == ""
    assert label_of("s3://b/raw/Test/Kiwi/X") == "Kiwi"  # only slashes are stripped


@pytest.mark.pure
def test_selection_messages_say_what_to_do():
    """Protects the user's next step: unknown classes list at most 8 known ones (then "..."),
    --limit below 1 says to pass a positive number; --limit 1 is allowed."""
    nine = images([(f"C{i}", 1) for i in range(9)])
    with pytest.raises(InputError) as raised:
        select_images(nine, classes="Banana*")
    assert raised.value.what == "no class matches --classes 'Banana*'"
    assert raised.value.todo == "class names are folder names, e.g. C0, C1, C2, C3, C4, C5, C6, C7, ..."
    with pytest.raises(InputError) as raised:
        select_images(nine[:8], classes="Banana*")
    assert raised.value.todo == "class names are folder names, e.g. C0, C1, C2, C3, C4, C5, C6, C7"
    with pytest.raises(InputError) as raised:
        select_images(nine, limit=0)
    assert (raised.value.what, raised.value.todo) == ("--limit must be at least 1 (got 0)",
                                                      "pass a positive number")
    assert select_images(nine, limit=1) == [nine[0]]


@pytest.mark.pure
def test_listing_messages_say_what_to_do(tmp_path):
    """Protects the hints of the listing errors (missing input, no images, unreadable)."""
    from tests.support.spark.hadoop_fs import ObjectStoreFs, fake_spark

    with pytest.raises(InputError) as raised:
        list_images(fake_spark(ObjectStoreFs()), str(tmp_path / "nope"))
    assert raised.value.todo == ("pass --input a folder of images (<split>/<class>/<image>.jpg), "
                                 "or omit it for the bundled sample")
    with pytest.raises(InputError) as raised:
        list_images(fake_spark(ObjectStoreFs()), str(tmp_path))
    assert raised.value.todo == "expected .jpg/.jpeg/.png files in <split>/<class>/ folders"

    class Unreadable(ObjectStoreFs):
        def exists(self, path):  # type: ignore[no-untyped-def]
            raise RuntimeError("x" * 300)

    with pytest.raises(InputError) as raised:
        list_images(fake_spark(Unreadable()), "hdfs://nn:8020/data")
    assert raised.value.what == f"cannot read hdfs://nn:8020/data: {'x' * 200}"
    assert raised.value.todo == "check the path and your access to it"


@pytest.mark.pure
def test_listing_is_relative_to_the_root_and_follows_links(tmp_path):
    """Protects what counts as hidden: only parts *below* the input (an input folder named
    ``_in`` is not hidden); linked folders are followed and a dangling link is listed with
    size 0 (Spark reports it as a failed image, so it is accounted for)."""
    from tests.support.spark.hadoop_fs import ObjectStoreFs, fake_spark

    root = tmp_path / "_in"
    (root / "Test" / "Kiwi").mkdir(parents=True)
    (root / "Test" / "Kiwi" / "a.jpg").write_bytes(b"abc")
    elsewhere = tmp_path / "elsewhere" / "Mango"
    elsewhere.mkdir(parents=True)
    (elsewhere / "m.jpg").write_bytes(b"mm")
    (root / "Test" / "Mango").symlink_to(elsewhere, target_is_directory=True)
    (root / "Test" / "Kiwi" / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    listing = list_images(fake_spark(ObjectStoreFs()), str(root))
    assert [(f.path[len(f"file:{root}/"):], f.size) for f in listing.images] == [
        ("Test/Kiwi/a.jpg", 3), ("Test/Kiwi/gone.jpg", 0), ("Test/Mango/m.jpg", 2)]
    assert listing.skipped == {}


@pytest.mark.pure
@pytest.mark.parametrize("root, lister", [
    ("file:/d/in", "local"), ("file:/d/in:1", "local"), ("s3://b/raw", "s3"), ("s3a://b/raw", "s3"), ("s3n://b/raw", "s3"),
    ("hdfs://nn:8020/raw", "hadoop"), ("gs://b/raw", "hadoop"),
])
def test_each_scheme_is_listed_by_its_fastest_lister(root, lister, monkeypatch, tmp_path):
    """Protects listing speed and correctness: local folders through Python, S3 through
    boto3 alone (no Hadoop connector needed to read S3), anything else through Hadoop's
    FileSystem (py4j), each given the right root; the first two need no Spark at all."""
    from types import SimpleNamespace

    from bigfruits.pipeline import ingest

    if lister == "local":  # listed only if it exists (a missing folder is the user's mistake)
        folder = tmp_path / root[len("file:/"):]
        folder.mkdir(parents=True)
        root = f"file:{folder}"
    assert ingest.listed_without_spark(root) == (lister != "hadoop")
    calls = []
    entry = [(root + "/a.jpg", 1, "")]
    monkeypatch.setattr(ingest, "walk_local", lambda path: calls.append(("local", path)) or iter(entry))
    monkeypatch.setattr(ingest, "list_objects", lambda uri: calls.append(("s3", uri)) or iter(entry))
    monkeypatch.setattr(ingest, "walk_hadoop", lambda fs, path: calls.append(("hadoop", fs, path)) or iter(entry))
    fs, path = SimpleNamespace(exists=lambda p: True), SimpleNamespace(toString=lambda: root)
    monkeypatch.setattr(ingest, "hadoop_path",
                        lambda spark, uri: (_ for _ in ()).throw(AssertionError("Hadoop asked"))
                        if lister == "s3" else (fs, path))
    assert ingest.list_entries(None, root) == (root, entry)
    expected = {"local": ("local", root[len("file:"):]), "s3": ("s3", root),
                "hadoop": ("hadoop", fs, path)}[lister]
    assert calls == [expected]


@pytest.mark.pure
@pytest.mark.parametrize("root", ["s3a://bucket/", "hdfs://nn:8020/"])
def test_listing_a_bucket_or_volume_root(root, monkeypatch):
    """Protects listing at the root of a bucket (Hadoop writes ``s3a://bucket/`` with its
    slash): the listing's root has no trailing slash, paths below it are relative to it,
    and the lister gets the FileSystem and the Path Hadoop gave."""
    from types import SimpleNamespace

    from bigfruits.pipeline import ingest

    fs = SimpleNamespace(exists=lambda path: True)
    path = SimpleNamespace(toString=lambda: root)
    monkeypatch.setattr(ingest, "hadoop_path", lambda spark, uri: (fs, path))
    found = [(root + "Test/Kiwi/a.jpg", 3, "etag:x"), (root + "_tmp/b.jpg", 1, "etag:y")]
    seen = []
    monkeypatch.setattr(ingest, "list_objects", lambda uri: seen.append(uri) or iter(found))
    monkeypatch.setattr(ingest, "walk_hadoop", lambda f, p: seen.append((f, p)) or iter(found))
    listing = list_images(None, root)
    assert listing.root == root.rstrip("/")
    assert [(f.path, f.size) for f in listing.images] == [(root + "Test/Kiwi/a.jpg", 3)]
    assert listing.skipped == {"hidden (a path part starts with '.' or '_')": 1}
    assert seen == ([root.rstrip("/")] if root.startswith("s3a") else [(fs, path)])


@pytest.mark.pure
def test_listing_keeps_each_inputs_stamp_for_reuse(tmp_path, monkeypatch):
    """Protects --reuse's input identity (path, size, stamp): a local file's stamp is its
    modification time in nanoseconds (``mtime:``), a dangling link has none (the empty
    default), and an object store's stamp (the ETag) reaches the listing unchanged."""
    from types import SimpleNamespace

    from bigfruits.pipeline import ingest
    from tests.support.spark.hadoop_fs import ObjectStoreFs, fake_spark

    kiwi = tmp_path / "Test" / "Kiwi"
    kiwi.mkdir(parents=True)
    (kiwi / "a.jpg").write_bytes(b"abc")
    os.utime(kiwi / "a.jpg", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    (kiwi / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    listing = list_images(fake_spark(ObjectStoreFs()), str(tmp_path))
    assert [(f.path, f.stamp) for f in listing.images] == [
        (f"file:{kiwi}/a.jpg", "mtime:1700000000123456789"), (f"file:{kiwi}/gone.jpg", "")]

    root = "s3a://bucket/raw"
    monkeypatch.setattr(ingest, "hadoop_path", lambda spark, uri: (
        SimpleNamespace(exists=lambda path: True), SimpleNamespace(toString=lambda: root)))
    monkeypatch.setattr(ingest, "list_objects", lambda uri: iter([(root + "/Test/Kiwi/a.jpg", 3, "etag:0a1b")]))
    assert [(f.path, f.size, f.stamp) for f in list_images(None, root).images] == [
        (root + "/Test/Kiwi/a.jpg", 3, "etag:0a1b")]


@pytest.mark.pure
def test_listing_root_loses_only_its_trailing_slash(tmp_path):
    """Protects the root Spark reads when every image is selected (``listing.root``): the input
    as given, only its trailing slash removed, whatever letters its name ends with."""
    from tests.support.spark.hadoop_fs import ObjectStoreFs, fake_spark

    root = tmp_path / "FRUITS-MIX"
    (root / "Test" / "Kiwi").mkdir(parents=True)
    (root / "Test" / "Kiwi" / "a.jpg").write_bytes(b"abc")
    listing = list_images(fake_spark(ObjectStoreFs()), str(root) + "/")
    assert listing.root == f"file:{root}"
    assert [f.path for f in listing.images] == [f"file:{root}/Test/Kiwi/a.jpg"]


@pytest.mark.pure
def test_images_directly_in_the_input_are_said_to_take_its_name(tmp_path):
    """A flat folder of images is labelled by the folder's own name: one line says so (and
    none when every image sits in a class folder)."""
    from bigfruits.pipeline.ingest import unfoldered_note

    flat = tmp_path / "my photos"
    flat.mkdir()
    for name in ("a.jpg", "b.png"):
        (flat / name).write_bytes(b"x")
    listing = list_images(None, str(flat))
    assert listing.unfoldered == 2
    assert unfoldered_note(listing) == (f"2 images are directly in file:{flat}, so their class is that "
                                        "folder's name ('my photos'): classes come from folder names "
                                        "(<class>/<image>.jpg)")
    (flat / "Kiwi").mkdir()
    for name in ("a.jpg", "b.png"):
        (flat / name).rename(flat / "Kiwi" / name)
    assert unfoldered_note(list_images(None, str(flat))) == ""
