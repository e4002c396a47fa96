#!/usr/bin/env bash
# Real-kernel conformance subset on Linux 6.1 (QEMU/TCG; no KVM needed).
#   1. vfiolab setup kernel --kernels 6.1   idempotent: ~25 s on a clean machine (apt, apt-get
#      download, builds; needs root for apt-get install), 0 s when ~/.cache/vfiolab is ready
#   2. vfiolab conformance --kernels 6.1    the scenario folders below, model vs kernel, in as few
#      boots as possible (one for the bulk, one per BUG/module-parameter scenario)
# Exits non-zero on a divergence not listed in docs/conformance-known.json, or a boot error.
# Results: $OUT/conformance-results.{json,txt} (default /tmp/vfiolab-kernel-conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_COLOR=1 FORCE_COLOR=0
OUT="${OUT:-/tmp/vfiolab-kernel-conformance}"
mkdir -p "$OUT"
t0=$(date +%s)
npx tsx src/cli/main.ts setup kernel --kernels 6.1
npx tsx src/cli/main.ts doctor >/dev/null || { npx tsx src/cli/main.ts doctor; exit 1; }
set +e
npx tsx src/cli/main.ts conformance --kernels 6.1 --known docs/conformance-known.json \
  --out "$OUT/conformance-results.json" \
  scenarios/container scenarios/group scenarios/info scenarios/map scenarios/unmap \
  scenarios/accounting scenarios/dirty scenarios/limits scenarios/vaddr scenarios/attach scenarios/mdev \
  scenarios/fuzz-found
rc=$?
set -e
echo "kernel conformance (6.1): exit $rc in $(( $(date +%s) - t0 )) s; results in $OUT"
exit $rc
