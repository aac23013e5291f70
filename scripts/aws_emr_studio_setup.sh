#!/usr/bin/env bash
# Kept for users' habits: `scripts/aws_emr_studio_setup.sh <command> [args]` == `bigfruits aws <command> [args]`
# with the EMR Studio defaults: `create-cluster` gets `--flavor studio` unless a flavor is given.
#   scripts/aws_emr_studio_setup.sh create-studio          scripts/aws_emr_studio_setup.sh create-cluster --yes
#   scripts/aws_emr_studio_setup.sh --region eu-west-1 status
set -euo pipefail
args=("$@")
is_create_cluster=0
has_flavor=0
for arg in "$@"; do
  case "$arg" in
    create-cluster) is_create_cluster=1 ;;
    --flavor|--flavor=*) has_flavor=1 ;;
  esac
done
if [[ $is_create_cluster == 1 && $has_flavor == 0 ]]; then
  args+=(--flavor studio)
fi
if command -v bigfruits >/dev/null 2>&1; then
  exec bigfruits aws "${args[@]}"
fi
exec "${PYTHON:-python3}" -m bigfruits aws "${args[@]}"
