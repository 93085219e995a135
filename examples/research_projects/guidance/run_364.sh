#!/bin/bash
# The guidance study at batch 128 (issue 19's middle budget, on the CPU): the classification defaults against
# --label_time mixed, 364 steps of batch 128 (the readout study's budget) at the script's default rate, 2e-3 (at this
# batch 5e-4 under the default cosine schedule leaves the default at 47% after 364 steps: measured, seed 0),
# scored like the quickstart models (500 held-out digits in one step; 300 generated at 25 steps, guidance 1 / 1.5 /
# 2 / 3 for the label-time model), seeds 0 and 1. Run as one chain under the machine-wide CPU lock, two threads:
#   flock /tmp/cpu.lock examples/research_projects/guidance/run_364.sh [OUT] [TASK]
# OUT defaults to /tmp/gs364, TASK to classification; `segmentation` runs the README main job's settings at this
# budget (no discriminative grid: the baseline script classifies).
cd "$(dirname "$0")/../../.."  # the repository root
OUT=${1:-/tmp/gs364}
TASK=${2:-classification}
PREFIX=$([ "$TASK" = segmentation ] && echo seg || echo cls)
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2
one() {
  IFS='|' read -r name flags evalflags seed <<< "$1"
  if [ ! -f "$OUT/$name/model_index.json" ]; then
    s=$(date +%s)
    accelerate launch examples/train_symmflow.py --task "$TASK" $flags --max_train_steps 364 \
      --train_batch_size 128 --seed "$seed" --num_cpu_threads 2 --output_dir "$OUT/$name" \
      > "$OUT/$name.train.log" 2>&1
    echo "$name train rc=$? wall_s=$(($(date +%s)-s)) :: $(grep -o 'Saved the SymmFlow.*' "$OUT/$name.train.log")" >> "$OUT/results.txt"
  fi
  if [ ! -f "$OUT/$name-eval/results.json" ]; then
    s=$(date +%s)
    python examples/evaluate_symmflow.py --pipeline "$OUT/$name" --task "$TASK" --max_eval_samples 500 \
      --steps 1 --sampling_modes default --generation_steps 25 --num_generated 300 $evalflags \
      --output_dir "$OUT/$name-eval" --no_progress > "$OUT/$name.eval.log" 2>&1
    echo "$name eval rc=$? wall_s=$(($(date +%s)-s))" >> "$OUT/results.txt"
  fi
}
for seed in 0 1; do
  suffix=$([ "$seed" = 0 ] || echo "_s$seed")
  one "${PREFIX}_diag$suffix||--guidance_scales 1|$seed"
  one "${PREFIX}_mixed$suffix|--label_time mixed|--guidance_scales 1 1.5 2 3|$seed"
done
# The discriminative classifier on the same UNet, data, batch, steps and warm-up, over a small learning-rate grid.
for lr in $([ "$TASK" = classification ] && echo 5e-4 1e-3 2e-3); do
  [ -f "$OUT/discriminative_lr$lr.json" ] || python benchmarks/train_discriminative_baseline.py --task classification \
    --unet_preset narrow --max_train_steps 364 --train_batch_size 128 --learning_rate $lr --lr_warmup_steps 50 \
    --threads 2 > "$OUT/discriminative_lr$lr.json"
done
echo ALLDONE >> "$OUT/results.txt"
