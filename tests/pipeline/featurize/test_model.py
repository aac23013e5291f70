"""``--weights PATH`` takes both Keras weights formats on every supported Keras (3.3 with TF 2.16
on EMR 7, and the newest): Keras 3's ``.weights.h5`` and the legacy ``.h5`` that Keras'
own ImageNet download (``mobilenet_v2_..._no_top.h5``) uses."""
from __future__ import annotations

import h5py
import pytest

from bigfruits.errors import InputError
from bigfruits.pipeline.featurize.model import build_mobilenet, load_model, randomize_weights, weights_sha256


@pytest.fixture(scope="module")
def seeded_model():
    model = build_mobilenet(None)
    randomize_weights(model, seed=77)
    return model


def test_keras3_weights_file_loads_the_same_tensors(seeded_model, tmp_path):
    path = tmp_path / "mobilenet.weights.h5"
    seeded_model.save_weights(str(path))
    _, info = load_model(str(path))
    assert (info.kind, info.meaningful) == ("file", True)
    assert info.sha256 == weights_sha256(seeded_model.get_weights())


def test_legacy_h5_file_like_the_imagenet_download_loads_the_same_tensors(seeded_model, tmp_path):
    from keras.src.legacy.saving import legacy_h5_format  # how Keras 2 wrote ``.h5`` weights

    path = tmp_path / "mobilenet_no_top.h5"
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, seeded_model)
    _, info = load_model(str(path))
    assert info.sha256 == weights_sha256(seeded_model.get_weights())


def test_weights_of_another_architecture_are_one_clear_error(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "dense.weights.h5"
    other.save_weights(str(path))
    with pytest.raises(InputError, match="cannot load weights from"):
        load_model(str(path))
