#!/usr/bin/env bash
# The one-step readout study's grid (README.md, section 1c): learning curves of discriminative models and
# SymmFlow variants, segmentation and classification on the bundled digits, batch 128, several runs at once.
#
#   bash examples/research_projects/readout_study/readout_grid.sh OUT_DIR [PARALLEL] [STEPS] [RUNS_FILE]
#
# RUNS_FILE (optional) is a bash file that sets `runs` (lines "NAME|flags", as below; it may use $seg, $cls, $paper,
# $skip, $logits and $out) and may set `evals`; without it the first round's grid runs.
# Each run writes OUT_DIR/NAME.json (its curve so far, rewritten at every scored step) and OUT_DIR/NAME.log.
# On a GPU the runs share the device; on a CPU give PARALLEL 1 and expect hours. `--data_cache` files in OUT_DIR
# hold the collated digits, so the runs (and a machine without the data packages) skip the loaders.
set -euo pipefail
out=${1:?usage: readout_grid.sh OUT_DIR [PARALLEL] [STEPS] [RUNS_FILE]}
parallel=${2:-4}
steps=${3:-3000}
mkdir -p "$out"
here=$(cd "$(dirname "$0")" && pwd)
evals=50,100,150,250,364,500,750,1000,1500,2000,3000,4000,6000
seg="--task segmentation --data_cache $out/segmentation.pt"
cls="--task classification --data_cache $out/classification.pt"
paper="--mode symmflow --label_param velocity --label_input raw --label_time diagonal --image_loss_weight 0.5"
skip="--mode symmflow --label_param skip --label_input gated --label_time diagonal --image_loss_weight 0.5"
logits="--mode symmflow --label_param logits --label_input gated --label_time diagonal"

runs=(
  "seg_disc_lr5e-4|$seg --mode discriminative --lr 5e-4"
  "seg_disc_lr1e-3|$seg --mode discriminative --lr 1e-3"
  "seg_disc_lr2e-3|$seg --mode discriminative --lr 2e-3"
  "seg_paper_lr5e-4|$seg $paper --lr 5e-4"
  "seg_paper_lr1e-3|$seg $paper --lr 1e-3"
  "seg_paper_lr2e-3|$seg $paper --lr 2e-3"
  "seg_skipgated_lr1e-3|$seg $skip --lr 1e-3"
  "seg_paper_labelx11_lr1e-3|$seg $paper --label_loss_scale 11 --lr 1e-3"
  "seg_logitsgated_lr1e-3|$seg --mode symmflow --label_param logits --label_input gated --image_loss_weight 0.5 --lr 1e-3"
  "cls_disc_lr5e-4|$cls --mode discriminative --lr 5e-4"
  "cls_disc_lr1e-3|$cls --mode discriminative --lr 1e-3"
  "cls_disc_lr2e-3|$cls --mode discriminative --lr 2e-3"
  "cls_paper_lr5e-4|$cls $paper --lr 5e-4"
  "cls_paper_lr1e-3|$cls $paper --lr 1e-3"
  "cls_paper_lr2e-3|$cls $paper --lr 2e-3"
  "seg_disc_lr2e-4|$seg --mode discriminative --lr 2e-4"
  "seg_skipgated_w0.1_lr1e-3|$seg $skip --image_loss_weight 0.1 --lr 1e-3"
  "seg_mixed_w0.9_lr1e-3|$seg --mode symmflow --label_time mixed --image_loss_weight 0.9 --lr 1e-3"
  "seg_paper_w0.9_lr1e-3|$seg $paper --image_loss_weight 0.9 --lr 1e-3"
  "seg_skipgated_ema_lr1e-3|$seg $skip --ema_decay 0.999 --lr 1e-3"
  "cls_skipgated_lr1e-3|$cls $skip --lr 1e-3"
  "cls_paper_w0.9_lr1e-3|$cls $paper --image_loss_weight 0.9 --lr 1e-3"
  "cls_mixed_w0.9_lr1e-3|$cls --mode symmflow --label_time mixed --image_loss_weight 0.9 --lr 1e-3"
)

if [ -n "${4:-}" ]; then
  # shellcheck disable=SC1090
  source "$4"
fi

# Build the data caches once, before the runs race to write them.
python3 "$here/readout_study.py" $seg --steps 1 --eval_steps 1 --mode discriminative > /dev/null
python3 "$here/readout_study.py" $cls --steps 1 --eval_steps 1 --mode discriminative > /dev/null

run_one() {
  local name=${1%%|*} flags=${1#*|}
  # shellcheck disable=SC2086
  # The run's own flags come last, so they may override --steps / --eval_steps.
  OMP_NUM_THREADS=1 python3 "$here/readout_study.py" --steps "$steps" --eval_steps "$evals" $flags \
    --out "$out/$name.json" > "$out/$name.log" 2>&1 || echo "$name failed" >> "$out/failed.txt"
}
export -f run_one
export here out steps evals
printf '%s\n' "${runs[@]}" | xargs -d '\n' -P "$parallel" -I{} bash -c 'run_one "$1"' _ {}
