#!/usr/bin/env bash
# Issue 12's CUDA half, in one call on a lent GPU machine (its python3 holds CUDA torch; the
# repository is the working directory, attncost runs from it uninstalled):
#   1. profile the GPU's kernels (`attncost profile --device cuda`);
#   2. judge the kernel-level predictor on the held-out set timed on the GPU, beside the
#      6-constant model and the roofline (`attncost validate-latency`);
#   3. edge-digits architectures trained on the GPU in fp32 and bf16 (the search's training).
# About 10 minutes on an H200 (the judgement ~6 of them), and about 2 more for the drift check
# (the profile's anchor layers re-timed before each case; DRIFT=0 skips it); give the call
# timeout 600 and, if it is cut off, run it again with RESUME=<the files that came back>.
# Every file goes to $OUT (default reports/cuda). RESUME=DIR copies a profile and judge
# timings from an earlier, cut-off call into $OUT first: both resume. QUICK=1 (a plumbing
# check): a fifth of the kernel shapes and a few held-out cases. DEVICE=cpu runs it on the CPU.
# SETS="v7-test fresh" judges only those held-out sets (what fits a short loan); TRAIN=0 skips
# step 3; DEADLINE=570 stops the judgement that many seconds after the script started (its
# timings are kept after each one, so a stopped run resumes and `--cached` judges what is in).
set -u
OUT=${OUT:-reports/cuda}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$OUT"
LOG=$OUT/cuda-run.log
PROFILE=$OUT/latency-$DEVICE-profile.json
CSV=$OUT/latency-$DEVICE.csv
[ -n "${RESUME:-}" ] && cp -v "$RESUME"/latency-*-profile.json "$RESUME"/latency-*.timings.json "$OUT"/ 2>&1 | tee -a "$LOG"
{
  date -u
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
  $PY -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
} 2>&1 | tee -a "$LOG"
step() { echo "== $* ($(date -u +%T))" | tee -a "$LOG"; ( time "$@" ) 2>&1 | tee -a "$LOG"; }
case "${DEADLINE:-1}" in
  ''|*[!0-9]*|0) echo "error: DEADLINE=${DEADLINE} must be a whole number of seconds above 0" >&2; exit 2 ;;
esac
quick=(); smoke=(); drift=(); sets=(); deadline=()
for s in ${SETS:-}; do sets+=(--set "$s"); done
[ "${DRIFT:-1}" = 0 ] && drift=(--no-drift)
[ -n "${QUICK:-}" ] && quick=(--quick) && smoke=(--smoke)
step $PY -m attncost profile -o "$PROFILE" --device "$DEVICE" --rounds "${ROUNDS:-1}" "${quick[@]}"
if [ -n "${DEADLINE:-}" ]; then
  left=$((DEADLINE - SECONDS))
  [ "$left" -gt 0 ] || { echo "error: DEADLINE=$DEADLINE s passed before the judgement" | tee -a "$LOG" >&2; exit 3; }
  deadline=(timeout --signal=INT "$left")
fi
step "${deadline[@]}" $PY -m attncost validate-latency "$PROFILE" -o "$CSV" "${smoke[@]}" \
  "${drift[@]}" "${sets[@]}"
if [ "$DEVICE" = cuda ] && [ "${TRAIN:-1}" != 0 ]; then
  step $PY examples/train_on_device.py "$OUT/train-cuda.json" cuda:fp32 cuda:bf16
fi
echo "== done ($(date -u +%T))" | tee -a "$LOG"
