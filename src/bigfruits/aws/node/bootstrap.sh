#!/bin/bash
# EMR bootstrap action (runs on every node, as hadoop, before applications start):
# installs Python 3.11 and our wheel with its extras from the wheelhouse, and writes the
# spark-submit driver. Nothing here reaches the internet: Python comes from Amazon Linux 2023's
# repositories and everything else from our bucket, both through S3 (a private subnet needs
# only an S3 gateway endpoint).
# Args: $1 = s3:// URI of the wheelhouse tar (our wheel and every wheel it needs, for CPython
#       3.11 manylinux x86_64, downloaded on the user's machine), $2 = extras (e.g. "node"),
#       $3 = s3:// URI of pip constraints matching EMR 7's Spark 3.5 (numpy<2, pandas 2.2).
set -euo pipefail
WHEELHOUSE_URI="$1"
EXTRAS="${2:-node}"
CONSTRAINTS_URI="${3:-}"
# The node's paths; a test running this script outside a node points them into a scratch folder.
PY="${BIGFRUITS_NODE_PYTHON:-/usr/bin/python3.11}"
DRIVER="${BIGFRUITS_DRIVER:-/usr/local/lib/bigfruits/driver.py}"

# Amazon Linux 2023 (EMR 7) ships python3.9; 3.11 and its pip are packages away. Installed
# unless both work already (an image may have python3.11 without its pip): dnf skips what is there.
# AL2023's repositories are S3 buckets (al2023-repos-<region>-de612dc2) that every EMR 7 cluster
# must reach anyway, through an S3 gateway endpoint in a private subnet:
# https://docs.aws.amazon.com/emr/latest/ManagementGuide/private-subnet-iampolicy.html
if ! { [ -x "$PY" ] && "$PY" -m pip --version > /dev/null 2>&1; }; then
  sudo dnf install -y -q python3.11 python3.11-pip
fi
# No `pip install --upgrade pip`: AL2023's pip comes from an rpm, which pip refuses to uninstall
# ("Cannot uninstall pip ..., RECORD file not found. Hint: The package was installed by rpm"),
# and that failure would stop the bootstrap (set -e). The rpm's pip installs our wheels as is.

WORK=$(mktemp -d)
aws s3 cp --quiet "$WHEELHOUSE_URI" "$WORK/wheelhouse.tar"
mkdir "$WORK/wheels"
tar -xf "$WORK/wheelhouse.tar" -C "$WORK/wheels"
rm "$WORK/wheelhouse.tar"
CONSTRAINTS=()
if [ -n "$CONSTRAINTS_URI" ]; then
  aws s3 cp --quiet "$CONSTRAINTS_URI" "$WORK/constraints.txt"
  CONSTRAINTS=(-c "$WORK/constraints.txt")
fi
# --no-index: from the wheelhouse only; no package index is ever asked (none may be reachable).
# pyspark comes from EMR itself (spark-submit puts it on the path): not installed here.
sudo "$PY" -m pip install -q --no-index --find-links "$WORK/wheels" "bigfruits[${EXTRAS}]" "${CONSTRAINTS[@]}"
rm -rf "$WORK/wheels"

# The step runs `spark-submit $DRIVER run ...`: the same CLI as on a laptop.
sudo mkdir -p "$(dirname "$DRIVER")"
sudo tee "$DRIVER" > /dev/null <<'PYEOF'
import sys

from bigfruits.cli import main

sys.exit(main(sys.argv[1:]))
PYEOF
sudo chmod 0644 "$DRIVER"
echo "bigfruits installed for $($PY --version)"
