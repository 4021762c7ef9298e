#!/usr/bin/env bash
# The 128 px decoder (issue: sharp syntheses), resumable, on the CPU: stage 1
# configs/bundled_cpu_128.toml (4,000 steps, 1 h 39 min on one core of an AMX Xeon beside other work, with
# bf16), then stage 2 configs/bundled_cpu_128_cycle.toml (1,000 pose-cycle steps, bundled 2026-12-07),
# then stage 3 configs/bundled_cpu_128_cycle_2.toml (1,500 more). All train only
# the decoder, into the latent space of the 64 px bundle, which must be at
# runs/bundled_cpu_real_longer/model.safetensors (the last stage of scripts/retrain_bundled_decoder.sh,
# or `git show 94c717e:assets/default_model.safetensors` there). It bundles nothing: measure first
# (python -m train.decoder_curve runs/bundled_cpu_128 runs/bundled_cpu_128_cycle runs/bundled_cpu_128_cycle_2), then
# `python -m train.bundle model runs/bundled_cpu_128_cycle_2/model.safetensors` if it measures better.
# One torch thread (OMP_NUM_THREADS=1): beside other work on 2 cores, two threads spin-wait and
# run several times slower. Cut short, run it again: a finished stage is skipped, an unfinished one resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -f runs/bundled_cpu_real_longer/model.safetensors ]]; then
  echo "runs/bundled_cpu_real_longer/model.safetensors is missing: see the top of $0" >&2
  exit 2
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
for stage in bundled_cpu_128 bundled_cpu_128_cycle bundled_cpu_128_cycle_2; do
  scripts/run_stage.sh "$stage" --no-progress
done
