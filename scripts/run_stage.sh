#!/usr/bin/env bash
# One stage of a training recipe, resumably: `scripts/run_stage.sh NAME [train.fit flags...]` trains
# configs/NAME.toml into runs/NAME, resumes it from its checkpoints when cut short, and does nothing
# when its model is marked finished (a run writes model.safetensors at every checkpoint; only the
# last is marked). Run from the project root (the recipe scripts cd there).
set -euo pipefail
stage="$1"; shift
out="runs/$stage"
finished() {
  python -c "import sys; from core.checkpoint import load_checkpoint; sys.exit(0 if load_checkpoint(sys.argv[1])[1].extra.get('finished') else 1)" "$1" 2>/dev/null
}
if [[ -f "$out/model.safetensors" ]] && finished "$out/model.safetensors"; then
  echo "$stage: done ($out/model.safetensors)"
elif [[ -d "$out/checkpoints" ]]; then
  nice -n 10 python -m train.fit --resume "$out" --device cpu "$@"
else
  nice -n 10 python -m train.fit --config "configs/$stage.toml" --out "$out" --device cpu "$@"
fi
