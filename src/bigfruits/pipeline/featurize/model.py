"""MobileNetV2 without its top (global average pooling, 1280 features) with the chosen weights.

``--weights`` takes ``imagenet`` (Keras' own download and cache), a path to a Keras weights file,
or ``random`` (seeded; the features then mean nothing, and the manifest says so). TensorFlow is
imported quietly here, once for every module that needs it (the model, both engines' export).
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, List

import numpy as np

from bigfruits.errors import EnvironmentProblem, InputError

INPUT_SHAPE = (224, 224, 3)
FEATURE_DIM = 1280
IMAGENET_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
#: Where Keras' ``MobileNetV2(weights="imagenet")`` downloads it from (keras.applications.mobilenet_v2);
#: ``$BIGFRUITS_IMAGENET_URL`` names a mirror instead (a proxy of your organisation, a test server).
IMAGENET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + IMAGENET_FILE
IMAGENET_URL_ENV = "BIGFRUITS_IMAGENET_URL"
DOWNLOAD_TIMEOUT_S = 30


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a run used: ``kind`` (imagenet, file, random), where from, and the sha256
    of the weight tensors themselves (so two runs can be compared whatever the source)."""

    kind: str
    source: str
    sha256: str
    meaningful: bool

    def to_dict(self) -> dict:
        return {"kind": self.kind, "source": self.source, "sha256": self.sha256,
                "meaningful": self.meaningful}


def import_tensorflow() -> Any:
    """Import TensorFlow without its C++ start-up chatter (oneDNN, CUDA probing), which TF >= 2.20
    prints through absl before any log-level setting is read. What it wrote is replayed if the
    import fails, so a broken installation still explains itself."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tensorflow


def _keras() -> Any:
    try:
        import_tensorflow()
        import keras  # noqa: F401
        from keras import applications  # noqa: F401
    except ImportError as exc:
        raise EnvironmentProblem(
            "TensorFlow/Keras is not installed",
            "install it with `pip install 'bigfruits[tf]'` (needed on the driver to build the model)",
        ) from exc
    return keras


def build_mobilenet(weights: "str | None") -> Any:
    """The Keras model: 224x224x3 in, 1280 average-pooled features out."""
    keras = _keras()
    return keras.applications.MobileNetV2(
        input_shape=INPUT_SHAPE, include_top=False, weights=weights, pooling="avg"
    )


def weights_sha256(weights: List[np.ndarray]) -> str:
    """A digest of the weight tensors (shapes and values), independent of the file format."""
    digest = hashlib.sha256()
    for array in weights:
        array = np.ascontiguousarray(array)
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def randomize_weights(model: Any, seed: int) -> None:
    """Seeded He-normal kernels drawn with numpy (the same on every Keras version).

    Keras' default (Glorot) initialisation shrinks activations through MobileNetV2's depth until
    the features are ~1e-11; He scaling keeps them around 1, so a random model still makes a
    useful test model (its features are well-scaled, though they mean nothing)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in ("Conv2D", "DepthwiseConv2D"):
            continue
        kernel, *rest = layer.get_weights()
        kh, kw, channels, _ = kernel.shape
        fan_in = kh * kw * (1 if kind == "DepthwiseConv2D" else channels)
        kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=kernel.shape).astype(np.float32)
        layer.set_weights([kernel, *rest])


def check_weights_arg(weights: str) -> None:
    """``imagenet``, ``random`` or an existing file, else one clear line."""
    if weights not in ("imagenet", "random") and not os.path.isfile(os.path.expanduser(weights)):
        raise InputError(
            f"weights file not found: {weights}",
            "pass --weights imagenet, --weights random, or the path to a Keras weights file",
        )


def imagenet_download_path() -> str:
    """Where Keras keeps its ImageNet download (``$KERAS_HOME/models``, else ``~/.keras/models``),
    which ``MobileNetV2(weights="imagenet")`` reads instead of downloading again."""
    keras_home = os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")))
    return os.path.join(keras_home, "models", IMAGENET_FILE)


def no_imagenet_weights(reason: str) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"could not download the ImageNet weights ({reason}; no internet?)",
        f"without internet, pass --weights PATH to a MobileNetV2 no-top weights file "
        f"(Keras' {IMAGENET_FILE}), or --weights random for a test run")


def download_imagenet_weights(timeout_s: float = DOWNLOAD_TIMEOUT_S) -> str:
    """Keras' ImageNet weights file in Keras' own cache, downloaded now if missing (no
    TensorFlow needed: Keras later finds it there), written atomically; its path. Done before
    Spark starts, so a machine without internet learns it in a second, not after the JVM."""
    import urllib.request

    path = imagenet_download_path()
    if os.path.isfile(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.partial-{os.getpid()}"
    try:
        url = os.environ.get(IMAGENET_URL_ENV) or IMAGENET_URL
        with urllib.request.urlopen(url, timeout=timeout_s) as answer, open(partial, "wb") as out:  # noqa: S310
            while True:
                chunk = answer.read(1 << 20)
                if not chunk:
                    break
                out.write(chunk)
        os.replace(partial, path)
    except OSError as exc:  # URLError, timeouts, a full disk
        reason = str(getattr(exc, "reason", exc)).splitlines()[0][:100]
        raise no_imagenet_weights(reason) from None
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path


def describe_weights(weights: str, seed: int = 0) -> "tuple[str, str, bool, str | None]":
    """``(kind, source, meaningful, cache key)`` of a ``--weights`` argument, without TensorFlow.
    The key (see ``cache.source_key``) names what determines the tensors; ``None`` when that
    cannot be known before Keras loads them (ImageNet weights not downloaded yet)."""
    from bigfruits.pipeline.featurize import cache

    if weights == "random":
        return "random", f"seed={seed}", False, cache.source_key("random", str(seed))
    if weights == "imagenet":
        download = imagenet_download_path()
        key = cache.source_key("file", cache.file_sha256(download)) if os.path.isfile(download) else None
        return "imagenet", "keras.applications (cached download)", True, key
    check_weights_arg(weights)
    path = os.path.abspath(os.path.expanduser(weights))
    return "file", path, True, cache.source_key("file", cache.file_sha256(path))


def load_model(weights: str = "imagenet", seed: int = 0) -> "tuple[Any, WeightsInfo]":
    """Build MobileNetV2 with ``weights`` (``imagenet``, ``random`` or a file path)."""
    _keras()  # a missing TensorFlow is one clear line, whatever the weights
    if weights == "random":
        model = build_mobilenet(None)
        randomize_weights(model, seed)
    elif weights == "imagenet":
        try:
            model = build_mobilenet("imagenet")
        except Exception as exc:  # Keras raises a bare Exception("URL fetch failure ...")
            raise no_imagenet_weights(str(exc).splitlines()[0].split(" on http")[0][:100]) from None
    else:
        check_weights_arg(weights)
        path = os.path.expanduser(weights)
        try:
            model = build_mobilenet(path)
        except Exception as exc:  # wrong architecture, corrupt file, wrong suffix
            raise InputError(
                f"cannot load weights from {weights} ({str(exc).splitlines()[0][:160]})",
                "pass a MobileNetV2 include_top=False weights file (.weights.h5 or .h5)",
            ) from None
    kind, source, meaningful, _ = describe_weights(weights, seed)
    return model, WeightsInfo(kind, source, weights_sha256(model.get_weights()), meaningful)
