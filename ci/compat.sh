#!/usr/bin/env bash
# CI's compatibility job: the suite on EMR 7's older pins (pyspark 3.5, TensorFlow 2.16 with
# Keras 3.3, numpy 1.26, pandas 2.2), in its own virtual environment beside the main one.
#   ci/compat.sh                     # whole suite
#   ci/compat.sh tests/pipeline -x   # any pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${COMPAT_VENV:-.venv-compat}"
[ -x "$venv/bin/python" ] || "${PYTHON:-python3.11}" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[spark,tf,onnx,test]" -c src/bigfruits/aws/node/constraints-emr7.txt
"$venv/bin/python" -m pip check
"$venv/bin/python" - <<'PY'
from importlib.metadata import version
print("compat pins:", ", ".join(f"{name} {version(name)}" for name in (
    "pyspark", "tensorflow", "keras", "numpy", "pandas", "pyarrow", "protobuf", "onnx",
    "onnxruntime", "tf2onnx")))
PY
exec "$venv/bin/python" -m pytest "${@:-tests}"
