#!/usr/bin/env bash
# System pieces the test suite uses beyond pip: Chromium (browser test of the HTML report)
# and a one-node SLURM cluster (slurm-wlm + munge). Needs root and apt; elsewhere it says
# what it skipped, and the tests that need these pieces say why they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "setup-machine: not root or no apt-get: skipping Chromium and SLURM set-up" >&2
  exit 0
fi
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
bash tests/slurm/start-cluster.sh
