"""Inference engines behind one interface, and the payload the driver broadcasts to workers.

On the driver, ``make_payload`` turns the Keras model into bytes an engine can rebuild itself
from (the weights for TensorFlow, an ONNX graph for ONNX Runtime). The payload travels once per
executor as a Spark broadcast; on each Python worker ``engine_for`` builds the engine once and
keeps it for every later batch and task that the (reused) worker runs.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any, Dict, Protocol, Tuple

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


class Engine(Protocol):
    """Preprocessed ``(n, 224, 224, 3)`` float32 batch in, ``(n, 1280)`` float32 features out."""

    name: str

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class EnginePayload:
    """What the driver broadcasts: enough for a worker to rebuild the engine, nothing more."""

    engine: str
    blob: bytes
    weights_sha256: str
    threads: int

    @property
    def cache_key(self) -> Tuple[str, str, int]:
        return (self.engine, self.weights_sha256, self.threads)


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


def make_payload(engine: str, model: Any, weights_sha256: str, threads: int) -> EnginePayload:
    """On the driver: export ``model`` for ``engine`` (a resolved name)."""
    return EnginePayload(engine, _module(engine).export_model(model), weights_sha256, max(1, threads))


_ENGINES: Dict[Tuple[str, str, int], Engine] = {}
_BUILDS: Dict[Tuple[str, str, int], int] = {}


def engine_for(payload: EnginePayload) -> Engine:
    """On a worker: the engine for this payload, built on first use, then reused."""
    engine = _ENGINES.get(payload.cache_key)
    if engine is None:
        engine = _module(payload.engine).load_engine(payload.blob, payload.threads)
        _BUILDS[payload.cache_key] = _BUILDS.get(payload.cache_key, 0) + 1
        _ENGINES.clear()  # one model per worker process is enough; free an older one
        _ENGINES[payload.cache_key] = engine
    return engine


def engines_built(payload: EnginePayload) -> int:
    """How many times this process built the engine for ``payload`` (once, if reuse works)."""
    return _BUILDS.get(payload.cache_key, 0)
