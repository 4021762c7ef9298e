#!/usr/bin/env bash
# The bundled model's decoder and real-photo encoder in one command, on the CPU (about 3 h 10 min
# on 2 cores): the pose-guided decoder into the plain model's latent space, the three pose-cycle
# passes, the image encoder embedded again with the synthetic -> real levers (two runs), then the bundle
# (README, "The bundled model"). Needs runs/plain_cpu/model.safetensors, e.g.
#   mkdir -p runs/plain_cpu && git show 87ff71d:assets/default_model.safetensors > runs/plain_cpu/model.safetensors
# Cut short, run it again: a finished stage is skipped and an unfinished one resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f runs/plain_cpu/model.safetensors ]]; then
  echo "runs/plain_cpu/model.safetensors is missing: see the top of $0" >&2
  exit 2
fi
# A run writes model.safetensors at every checkpoint; only one marked finished ends its stage.
finished() {
  python -c "import sys; from core.checkpoint import load_checkpoint; sys.exit(0 if load_checkpoint(sys.argv[1])[1].extra.get('finished') else 1)" "$1" 2>/dev/null
}
for stage in bundled_cpu_pose_guided bundled_cpu_pose_cycle bundled_cpu_pose_cycle_2 bundled_cpu_pose_cycle_3 \
             bundled_cpu_real_no_heatmap bundled_cpu_real_longer; do
  out="runs/$stage"
  if [[ -f "$out/model.safetensors" ]] && finished "$out/model.safetensors"; then
    echo "$stage: done ($out/model.safetensors)"
  elif [[ -d "$out/checkpoints" ]]; then
    nice -n 10 python -m train.fit --resume "$out" --device cpu
  else
    nice -n 10 python -m train.fit --config "configs/$stage.toml" --out "$out" --device cpu
  fi
done
python -m train.bundle model runs/bundled_cpu_real_longer/model.safetensors
echo "bundled: assets/default_model.safetensors"
