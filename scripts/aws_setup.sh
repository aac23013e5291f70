#!/usr/bin/env bash
# Kept for users' habits: `scripts/aws_setup.sh <command> [args]` == `bigfruits aws <command> [args]`.
# Global options go after the command name's place as usual for bigfruits, e.g.
#   scripts/aws_setup.sh create-cluster --yes      scripts/aws_setup.sh --region eu-west-1 status
set -euo pipefail
if command -v bigfruits >/dev/null 2>&1; then
  exec bigfruits aws "$@"
fi
exec "${PYTHON:-python3}" -m bigfruits aws "$@"
