#!/usr/bin/env bash
# Kernel audit (issue 22): runs `.ci/run` on a fresh clone of HEAD under each OpenBLAS kernel family this CPU can
# execute, and once with OPENBLAS_NUM_THREADS=1, and prints one table row each: setting, passed, failed, skipped,
# exit status, seconds. OPENBLAS_CORETYPE is set here, by hand, for the audit only: never in the tests or CI.
#
# Usage: Scripts/audit/kernels.sh [SETTING ...]   (default: default Haswell SkylakeX Cooperlake Zen threads1)
#   default      the kernel OpenBLAS picks for this CPU
#   threads1     the default kernel with OPENBLAS_NUM_THREADS=1
#   NAME         OPENBLAS_CORETYPE=NAME
# Environment: AUDIT_DIR  where the clone is made (default ${TMPDIR:-/tmp}/verity-kernel-audit); logs are kept there.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${AUDIT_DIR:-${TMPDIR:-/tmp}/verity-kernel-audit}
settings=("$@")
((${#settings[@]})) || settings=(default Haswell SkylakeX Cooperlake Zen threads1)
rm -rf "$dir/clone" && mkdir -p "$dir" && git clone -q "$repo" "$dir/clone" || exit 2
cd "$dir/clone" || exit 2
echo "| setting | OpenBLAS core | passed | failed | skipped | exit | seconds |"
echo "|---|---|---|---|---|---|---|"
for s in "${settings[@]}"; do
  env=()
  case $s in
    default) ;;
    threads1) env=(OPENBLAS_NUM_THREADS=1) ;;
    *) env=(OPENBLAS_CORETYPE="$s") ;;
  esac
  core=$(env "${env[@]}" python3 - <<'PY' 2>/dev/null || echo "?"
import ctypes
lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())
PY
)
  t0=$SECONDS
  env "${env[@]}" CI=true bash .ci/run >"$dir/$s.log" 2>&1
  rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$dir/$s.log" | tail -n 1)
  read -r p _ f _ k _ <<<"${line//,/}"
  echo "| $s | $core | ${p:-?} | ${f:-?} | ${k:-?} | $rc | $((SECONDS - t0)) |"
  grep -E '^failed: ' "$dir/$s.log" | sed 's/^/    /'
done
