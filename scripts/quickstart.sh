#!/usr/bin/env bash
# Quick start, step 1: set everything up and run the pipeline on the bundled sample.
#  - checks Java 17 (Spark needs it);
#  - as root on Debian/Ubuntu, installs the system packages the test suite uses (an SSH server
#    and client for the tunnel tests, openssl for the local HTTPS AWS endpoint, python3-venv for
#    virtual environments with ensurepip: this one and the fresh node Python of the node tests);
#  - creates the virtual environment .venv/ and installs bigfruits with Spark, TensorFlow,
#    ONNX Runtime and the test tools;
#  - runs `bigfruits run` on the bundled sample into output/sample/ (ImageNet weights when they
#    can be downloaded; otherwise seeded random weights, said loudly: such features mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
  echo "quickstart: Java 17 is required: install it (apt-get install openjdk-17-jre-headless) and rerun" >&2
  exit 2
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=""
  for pkg in openssh-server openssh-client openssl python3-venv; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    echo "quickstart: installing$missing (used by the test suite)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
.venv/bin/python -m pip install -q -e ".[spark,tf,onnx,test]"

weights=imagenet
if ! .venv/bin/bigfruits fetch-weights 2>/dev/null; then
  echo "quickstart: no internet for the ImageNet weights, so the demo runs with --weights random:"
  echo "quickstart: its features are NOT meaningful (pass --weights PATH to a weights file for real ones)."
  weights=random
fi
.venv/bin/bigfruits run --weights "$weights" --output output/sample --overwrite "$@"
