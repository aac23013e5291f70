"""The exported-model cache: where it lives, what names an entry, atomic writes, and a second
run that needs neither TensorFlow nor the export."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from bigfruits import locations
from bigfruits.pipeline.featurize import cache
from tests.support.paths import REPO, SAMPLE


def test_cache_folder_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(locations.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert locations.cache_dir() == str(tmp_path / "xdg" / "bigfruits")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert locations.cache_dir() == str(tmp_path / "home" / ".cache" / "bigfruits")
    monkeypatch.setenv(locations.CACHE_ENV, str(tmp_path / "mine"))
    assert locations.cache_dir() == str(tmp_path / "mine")


def test_a_weights_file_is_named_by_its_bytes_and_random_weights_by_their_seed(tmp_path):
    first, copy = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    first.write_bytes(b"weights" * 100)
    shutil.copy(first, copy)
    key = cache.source_key("file", cache.file_sha256(str(first)))
    assert key == cache.source_key("file", cache.file_sha256(str(copy)))
    copy.write_bytes(b"weights" * 99 + b"weightZ")
    assert key != cache.source_key("file", cache.file_sha256(str(copy)))
    assert cache.source_key("random", "0") != cache.source_key("random", "1")


def test_entries_are_written_whole_and_an_unwritable_cache_is_no_error(monkeypatch, tmp_path):
    monkeypatch.setenv(locations.CACHE_ENV, str(tmp_path / "c"))
    cache.write_onnx("ab" * 32, 15, b"graph")
    cache.remember_sha256("key", "ab" * 32)
    assert cache.read_onnx("ab" * 32, 15) == b"graph" and cache.known_sha256("key") == "ab" * 32
    assert cache.read_onnx("cd" * 32, 15) is None and cache.known_sha256("other") is None
    leftovers = [n for _, _, names in os.walk(tmp_path / "c") for n in names if n.startswith(".tmp")]
    assert leftovers == []
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv(locations.CACHE_ENV, str(tmp_path / "file"))
    cache.write_onnx("ab" * 32, 15, b"graph")  # no exception
    assert cache.read_onnx("ab" * 32, 15) is None


SECOND_RUN = textwrap.dedent("""
    import json, sys
    from bigfruits.pipeline.config import RunConfig
    from bigfruits.pipeline.run import run_pipeline
    manifest = run_pipeline(RunConfig(input=sys.argv[1], output=sys.argv[2], k=2, weights="random",
                                      seed=5, master="local[2]", progress=False)).manifest
    print(json.dumps({"tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
                      "cached": manifest["model_from_cache"], "sha256": manifest["weights"]["sha256"],
                      "ok": manifest["images_ok"]}))
""")


@pytest.mark.slow
def test_a_second_run_imports_no_tensorflow(tmp_path, monkeypatch):
    pytest.importorskip("tf2onnx")
    from bigfruits.pipeline.featurize.engines import prepare

    env = {**os.environ, locations.CACHE_ENV: str(tmp_path / "cache"), "PYTHONPATH": str(REPO / "src")}
    images = tmp_path / "in" / "Test" / "Kiwi"
    images.mkdir(parents=True)
    for src in sorted((SAMPLE / "Test" / "Kiwi").glob("*.jpg"))[:3]:
        shutil.copy(src, images)
    monkeypatch.setenv(locations.CACHE_ENV, env[locations.CACHE_ENV])
    first = prepare("onnxruntime", "random", seed=5)  # the first run's export, cached
    assert not first.cached
    proc = subprocess.run([sys.executable, "-c", SECOND_RUN, str(tmp_path / "in"), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"tensorflow": False, "keras": False, "cached": True,
                    "sha256": first.weights.sha256, "ok": 3}


def test_an_install_without_tf2onnx_finds_any_export_of_the_weights(monkeypatch, tmp_path):
    """A light install (the cloud commands, a node) cannot export, so an export of the same
    weights and opset by whichever tf2onnx made it is the graph it needs; where tf2onnx is
    installed, only its own version's export is (another version may export differently)."""
    monkeypatch.setenv(locations.CACHE_ENV, str(tmp_path / "c"))
    monkeypatch.setattr(cache, "_version", lambda package: "1.16.1")
    cache.write_onnx("ab" * 32, 15, b"graph by 1.16.1")
    monkeypatch.setattr(cache, "_version", lambda package: "1.17.0")
    assert cache.read_onnx("ab" * 32, 15) is None
    monkeypatch.setattr(cache, "_version", lambda package: "none")
    assert cache.read_onnx("ab" * 32, 15) == b"graph by 1.16.1"
    assert cache.read_onnx("ab" * 32, 13) is None and cache.read_onnx("cd" * 32, 15) is None
