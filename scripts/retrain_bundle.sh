#!/usr/bin/env bash
# Rebuild the bundled model from nothing: every stage of configs/bundled/ in order (each config's
# header says what it trains), each into runs/bundled/<stage> starting from the stage before it, then
# `python -m train.bundle model` of the last one, which replaces assets/default_model.safetensors.
# The bundled model carries this recipe (HandModel.recipe: stage configs, steps, commits).
#
# Time each stage took on 2 CPU cores (x86_64, no GPU; steps of 32 samples):
#   01_plain                   1 h 37 min   1,800 disentangling + 6,600 embedding steps
#   02_plain_more_embedding    1 h 34 min   11,000 embedding steps
#   03_pose_guided_decoder     1 h 03 min   5,000 steps (the 64 px pose-guided decoder)
#   04_pose_cycle                 46 min    2,500 pose-cycle steps
#   05_pose_cycle_2               17 min    1,500
#   06_pose_cycle_3               12 min    1,500
#   07_real_photos                25 min    1,500 embedding steps towards real photos
#   08_real_photos_longer         27 min    3,000
#   09_decoder_128             1 h 39 min   4,000 steps (the 128 px decoder; bfloat16 on an AMX Xeon,
#                                           about twice as long in float32 elsewhere)
#   10_decoder_128_cycle          23 min    1,000 pose-cycle steps (bfloat16)
# About 8 h 45 min in all (about 11 h where the CPU lacks bfloat16).
#
# Resumable: cut short, run it again; a finished stage is skipped, an unfinished one resumes from
# its last checkpoint (every few minutes). Beside other work on 2 cores, export OMP_NUM_THREADS=1
# first: two torch threads that share their cores with another process spin-wait and run slower.
set -euo pipefail
cd "$(dirname "$0")/.."
last=""
for config in configs/bundled/*.toml; do
  stage="bundled/$(basename "$config" .toml)"
  echo "== $stage ($(date -u +%H:%M) UTC)"
  scripts/run_stage.sh "$stage" --no-progress
  last="runs/$stage/model.safetensors"
done
python -m train.bundle model "$last"
