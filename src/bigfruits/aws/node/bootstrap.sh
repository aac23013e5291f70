#!/bin/bash
# EMR bootstrap action (runs on every node, as hadoop, before applications start):
# installs Python 3.11 and our wheel with its extras, and writes the spark-submit driver.
# Args: $1 = s3:// URI of the bigfruits wheel, $2 = extras (e.g. "tf,onnx"),
#       $3 = s3:// URI of pip constraints matching EMR 7's Spark 3.5 (numpy<2, pandas 2.2, TF 2.16).
set -euo pipefail
WHEEL_URI="$1"
EXTRAS="${2:-tf,onnx}"
CONSTRAINTS_URI="${3:-}"
# The node's paths; a test running this script outside a node points them into a scratch folder.
PY="${BIGFRUITS_NODE_PYTHON:-/usr/bin/python3.11}"
DRIVER="${BIGFRUITS_DRIVER:-/usr/local/lib/bigfruits/driver.py}"

# Amazon Linux 2023 (EMR 7) ships python3.9; 3.11 and its pip are packages away. Installed
# unless both work already (an image may have python3.11 without its pip): dnf skips what is there.
if ! { [ -x "$PY" ] && "$PY" -m pip --version > /dev/null 2>&1; }; then
  sudo dnf install -y -q python3.11 python3.11-pip python3.11-devel
fi
# No `pip install --upgrade pip`: AL2023's pip comes from an rpm, which pip refuses to uninstall
# ("Cannot uninstall pip ..., RECORD file not found. Hint: The package was installed by rpm"),
# and that failure would stop the bootstrap (set -e). The rpm's pip installs our wheels as is.

WORK=$(mktemp -d)
aws s3 cp "$WHEEL_URI" "$WORK/"
WHEEL="$WORK/$(basename "$WHEEL_URI")"
CONSTRAINTS=()
if [ -n "$CONSTRAINTS_URI" ]; then
  aws s3 cp "$CONSTRAINTS_URI" "$WORK/constraints.txt"
  CONSTRAINTS=(-c "$WORK/constraints.txt")
fi
# pyspark comes from EMR itself (spark-submit puts it on the path): not installed here.
sudo "$PY" -m pip install -q "${WHEEL}[${EXTRAS}]" "${CONSTRAINTS[@]}"

# The step runs `spark-submit $DRIVER run ...`: the same CLI as on a laptop.
sudo mkdir -p "$(dirname "$DRIVER")"
sudo tee "$DRIVER" > /dev/null <<'PYEOF'
import sys

from bigfruits.cli import main

sys.exit(main(sys.argv[1:]))
PYEOF
sudo chmod 0644 "$DRIVER"
echo "bigfruits installed for $($PY --version)"
