"""A user mistake gives one line on stderr saying what to do, a non-zero exit, no traceback."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.paths import SAMPLE, python_cmd


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(python_cmd(*args), capture_output=True, text=True, timeout=300,
                          env=env or os.environ.copy())


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("bigfruits: error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.fixture()
def small_input(tmp_path):
    dst = tmp_path / "in" / "Test" / "Kiwi"
    dst.mkdir(parents=True)
    for src in sorted((SAMPLE / "Test" / "Kiwi").glob("*.jpg"))[:3]:
        shutil.copy(src, dst)
    return tmp_path / "in"


def test_missing_input(tmp_path):
    assert_one_line_error(run_cli("run", "--input", str(tmp_path / "nope"), "--output", str(tmp_path / "o")),
                          "input not found", "--input")


def test_output_exists_without_overwrite(tmp_path, small_input):
    (tmp_path / "o").mkdir()
    assert_one_line_error(run_cli("run", "--input", str(small_input), "--output", str(tmp_path / "o")),
                          "output already exists", "--overwrite")


def test_k_larger_than_features():
    assert_one_line_error(run_cli("run", "--k", "1281"), "between 1 and 1280")


def test_k_and_variance_together():
    assert_one_line_error(run_cli("run", "--k", "3", "--variance", "0.9"), "pass only one")


def test_missing_weights_file(tmp_path):
    assert_one_line_error(run_cli("run", "--weights", str(tmp_path / "w.h5"), "--output", str(tmp_path / "o")),
                          "weights file not found")


def test_no_java(tmp_path, small_input):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    python_dir = os.path.dirname(python_cmd()[0])
    env["PATH"] = python_dir  # the venv's python, and no java
    assert_one_line_error(run_cli("run", "--input", str(small_input), "--output", str(tmp_path / "o"),
                                  "--weights", "random", env=env),
                          "Java was not found", "Java 17")


def test_no_images_found(tmp_path):
    (tmp_path / "in" / "Test" / "Kiwi").mkdir(parents=True)
    (tmp_path / "in" / "Test" / "Kiwi" / "notes.txt").write_text("no image here")
    assert_one_line_error(run_cli("run", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "o"),
                                  "--weights", "random"), "no images found")


def test_k_larger_than_images(tmp_path, small_input):
    assert_one_line_error(run_cli("run", "--input", str(small_input), "--output", str(tmp_path / "o"),
                                  "--weights", "random", "--k", "5"), "more than the 3 images")
    assert not (tmp_path / "o").exists()


def test_s3_input_without_credentials(tmp_path):
    """Reading S3 needs no Hadoop connector any more (the listing and the reads are boto3's);
    without credentials the one line says how to give them. No credential source is reachable
    here (no files, no variables, the metadata address disabled), so nothing leaves 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert_one_line_error(run_cli("run", "--input", "s3a://some-bucket/fruits", "--output", str(tmp_path / "o"),
                                  "--weights", "random", env=env), "credentials", "aws configure")


def test_unknown_class(tmp_path, small_input):
    assert_one_line_error(run_cli("run", "--input", str(small_input), "--output", str(tmp_path / "o"),
                                  "--weights", "random", "--classes", "Banana*"),
                          "no class matches", "Kiwi")


def test_reuse_path_missing(tmp_path, small_input):
    proc = run_cli("run", "--input", str(small_input), "--output", str(tmp_path / "o"),
                   "--weights", "random", "--reuse", str(tmp_path / "nope"))
    assert_one_line_error(proc, "--reuse", "not found", "--output folder of a finished bigfruits run")
    assert proc.returncode == 2


def test_reuse_path_not_a_bigfruits_output(tmp_path, small_input):
    proc = run_cli("run", "--input", str(small_input), "--output", str(tmp_path / "o"),
                   "--weights", "random", "--reuse", str(small_input))
    assert_one_line_error(proc, "--reuse", "not a bigfruits output (no manifest.json)")
    assert proc.returncode == 2


def _no_java_env(**more: str) -> dict:
    """This environment without Java (no JAVA_HOME, only the venv's python on PATH): a mistake
    reported under it, as its own line, was found before any JVM could start."""
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = os.path.dirname(python_cmd()[0])
    env.update(more)
    return env


@pytest.mark.parametrize("case", ["no images", "unknown class", "k over images", "no internet", "s3 no credentials"])
def test_mistakes_are_found_before_spark_starts(case, tmp_path, small_input):
    """Each of these is the user's mistake, reported in its own line, exit 2, with no Java on
    the machine at all: nothing waited for a JVM (a second, not the 10-40 s of a Spark start)."""
    from bigfruits.bench.local_servers import free_port

    out = str(tmp_path / "o")
    empty = tmp_path / "empty"
    empty.mkdir()
    args, env, needles = {
        "no images": (["--input", str(empty), "--weights", "random"], {}, ["no images found"]),
        "unknown class": (["--input", str(small_input), "--weights", "random", "--classes", "Zz*"], {},
                          ["no class matches"]),
        "k over images": (["--input", str(small_input), "--weights", "random", "--k", "5"], {},
                          ["--k 5 is more than the 3 images"]),
        # the ImageNet weights are not in Keras' cache and their server does not answer
        "no internet": (["--input", str(small_input)],
                        {"KERAS_HOME": str(tmp_path / "keras"),
                         "BIGFRUITS_IMAGENET_URL": f"http://127.0.0.1:{free_port()}/weights.h5"},
                        ["could not download the ImageNet weights", "--weights PATH"]),
        "s3 no credentials": (["--input", "s3://some-bucket/fruits", "--weights", "random"],
                              {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                               "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
                               "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "",
                               "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": ""},
                              ["credentials", "aws configure"]),
    }[case]
    env = _no_java_env(**env)
    for name in [k for k, v in env.items() if k.startswith("AWS_") and v == ""]:
        del env[name]
    proc = run_cli("run", "--output", out, *args, env=env)
    assert_one_line_error(proc, *needles)
    assert proc.returncode == 2 and "Java" not in proc.stderr
    assert not os.path.exists(out)


def test_a_small_input_gets_fewer_components_said_in_one_line(tmp_path, small_input):
    """Without --k, a 3-image input gets k=2 (the most 3 centred images span) and one line
    saying so, instead of failing on the default 50."""
    proc = run_cli("run", "--input", str(small_input), "--output", str(tmp_path / "o"), "--weights", "random",
                   "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    notes = [line for line in proc.stderr.splitlines() if "k=2 components" in line]
    assert len(notes) == 1 and "default 50" in notes[0], proc.stderr
    import json

    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["k"] == 2


def test_bench_without_its_extra_says_what_to_install():
    """`bigfruits bench` is listed in `bigfruits --help`; without psutil (the bench extra) it is
    one line saying which extra to install, not a ModuleNotFoundError."""
    import subprocess
    import sys

    script = ("import sys; sys.modules['psutil'] = None\n"
              "from bigfruits.cli import main\nsys.exit(main(['bench', '--help']))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert_one_line_error(proc, "needs psutil", "pip install 'bigfruits[bench]'")
    assert proc.returncode == 2
