#!/usr/bin/env bash
# The prepared run for a session that is lent a GPU (the device tool: one call, ~10 minutes).
#
# It trains the bundled default model (configs/default.toml, data rendered on the GPU), saves it
# in float16, evaluates it on the synthetic test set, reruns the experiments of docs/results.md at
# their full budget and records the CUDA rows of train.bench. The GPU machine has no network and
# its own python3 with torch; the repository runs from its root without installing.
#
#   device tool:  run(command="bash scripts/gpu_session.sh", timeout_s=600)
#   smoke test on a CPU (tiny configs, minutes):  QUICK=1 OUT=/tmp/gpu_out bash scripts/gpu_session.sh
#
# What comes back (the device tool returns at most 8 files from $OUT):
#   default_model.safetensors  -> assets/default_model.safetensors (partial_model.safetensors
#                              instead when training was cut short: resume on the next call)
#   evaluate.txt               the model's table and JSON line (README's bundled-model table)
#   results.tar                results.md + img/ -> docs/ (tar -xf results.tar -C docs)
#   bench.txt                  train.bench --quick with its CUDA rows (rough figures: short runs)
#   log.txt                    everything printed
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-gpu_out}
PY=${PY:-python3}
QUICK=${QUICK:-0}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ "$QUICK" = 1 ]; then
  DEVICE=cpu; FIT_CONFIG=configs/tiny.toml; FIT_LIMIT=600; EXPERIMENTS=(--quick); EXP_LIMIT=900; BENCH=(--quick)
else
  DEVICE=cuda; FIT_CONFIG=configs/default.toml; FIT_LIMIT=330; EXPERIMENTS=(); EXP_LIMIT=170; BENCH=(--quick)
fi

step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

{
  step "machine"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"

  # Step 1: the default model. A run cut short by the limit keeps its last checkpoint in runs/
  # (kept on a warm machine between calls): the next call resumes it. Only a finished run gives
  # default_model.safetensors; a cut-short one gives partial_model.safetensors (the model of its
  # last evaluation, its phase and step printed), evaluated the same way, not to be bundled as is.
  if [ -d runs/gpu_default/checkpoints ]; then
    FIT_ARGS=(--resume runs/gpu_default); step "resume runs/gpu_default on $DEVICE (limit ${FIT_LIMIT}s)"
  else
    FIT_ARGS=(--config "$FIT_CONFIG" --out runs/gpu_default); step "train $FIT_CONFIG on $DEVICE (limit ${FIT_LIMIT}s)"
  fi
  if timeout "$FIT_LIMIT" "$PY" -m train.fit "${FIT_ARGS[@]}" --device "$DEVICE"; then
    "$PY" -c "from core import HandModel; HandModel.load('runs/gpu_default/model.safetensors').save('$OUT/default_model.safetensors', half=True)"
    step "evaluate the bundled-to-be model on the synthetic test set"
    "$PY" -m train.evaluate --checkpoint "$OUT/default_model.safetensors" --dataset synthetic --device "$DEVICE" \
      --json | tee "$OUT/evaluate.txt"
  else
    echo "train.fit did not finish within ${FIT_LIMIT}s: nothing bundled (see the steps/s above)"
    if [ -f runs/gpu_default/model.safetensors ]; then
      "$PY" -c "from core import HandModel; m = HandModel.load('runs/gpu_default/model.safetensors'); \
print('partial model:', m.meta.extra.get('phase'), 'step', m.meta.extra.get('phase_step')); \
m.save('$OUT/partial_model.safetensors', half=True)"
      "$PY" -m train.evaluate --checkpoint "$OUT/partial_model.safetensors" --dataset synthetic --device "$DEVICE" \
        --json | tee "$OUT/evaluate.txt"
    fi
  fi

  # Step 2: docs/results.md at its full budget.
  step "experiments (limit ${EXP_LIMIT}s)"
  rm -rf runs/gpu_results && mkdir -p runs/gpu_results
  cp docs/results.md runs/gpu_results/  # the experiments rewrite only their section of the report
  if timeout "$EXP_LIMIT" "$PY" -m train.experiments "${EXPERIMENTS[@]}" --device "$DEVICE" \
      --out runs/gpu_results --work runs/gpu_experiments; then
    tar -cf "$OUT/results.tar" -C runs/gpu_results .
  else
    echo "train.experiments did not finish within ${EXP_LIMIT}s"
  fi

  # Step 3: speed rows, CUDA included where a GPU is visible.
  step "train.bench"
  timeout 60 "$PY" -m train.bench "${BENCH[@]}" | tee "$OUT/bench.txt"
  step "done"
} 2>&1 | tee "$OUT/log.txt"
