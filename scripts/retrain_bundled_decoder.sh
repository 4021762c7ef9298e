#!/usr/bin/env bash
# The bundled model's decoders and real-photo encoder in one command, on the CPU (about 5 h 10 min
# on 2 cores): the 64 px pose-guided decoder into the plain model's latent space, its three
# pose-cycle passes, the image encoder embedded again with the synthetic -> real levers (two runs),
# the 128 px decoder that replaces the 64 px one (two runs, about 2 h), then the bundle (README,
# "The bundled model"). Needs runs/plain_cpu/model.safetensors, e.g.
#   mkdir -p runs/plain_cpu && git show 87ff71d:assets/default_model.safetensors > runs/plain_cpu/model.safetensors
# Cut short, run it again: a finished stage is skipped and an unfinished one resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f runs/plain_cpu/model.safetensors ]]; then
  echo "runs/plain_cpu/model.safetensors is missing: see the top of $0" >&2
  exit 2
fi
for stage in bundled_cpu_pose_guided bundled_cpu_pose_cycle bundled_cpu_pose_cycle_2 bundled_cpu_pose_cycle_3 \
             bundled_cpu_real_no_heatmap bundled_cpu_real_longer; do
  scripts/run_stage.sh "$stage"
done
# the 128 px decoder into that model's latent space (one thread: see scripts/train_decoder_128.sh)
for stage in bundled_cpu_128 bundled_cpu_128_cycle; do
  OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" scripts/run_stage.sh "$stage"
done
python -m train.bundle model runs/bundled_cpu_128_cycle/model.safetensors
echo "bundled: assets/default_model.safetensors"
