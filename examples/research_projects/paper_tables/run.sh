#!/usr/bin/env bash
# The paper's Tables 6 and 5 on the bundled digits at a CPU budget: the paper's model (--preset paper, the authors'
# code's settings) beside the project's default model and a discriminative classifier, same UNet, data, batch and
# steps. Run from the repository root:  bash examples/research_projects/paper_tables/run.sh [OUT] [STEPS] [BATCH]
# The recipe (examples/recipes/mnist.sh) runs 1,000 epochs at batch 512 with --unet_config mnist (about 9,000 steps);
# on 2 CPU cores that UNet takes tens of seconds per batch of 512, so this runs the `narrow` UNet at a reduced budget
# and says so. Everything else of the recipe is kept: --preset paper, beta 4, lr 5e-4, a tenth of the run as warm-up.
set -euo pipefail
OUT=${1:-paper-tables}
STEPS=${2:-300}
BATCH=${3:-128}
WARMUP=$((STEPS / 10))
COMMON="--task classification --unet_config narrow --train_batch_size $BATCH --max_train_steps $STEPS
  --validation_steps $((STEPS / 4)) --checkpointing_steps $STEPS --num_validation_images 0 --report_to none --seed 0"
EVAL="--task classification --steps 1 2 5 10 20 25 --generation_steps 25 --num_generated 200 --no_progress"
train() { name=$1; shift; /usr/bin/time -f "$name %e s" python examples/train_symmflow.py $COMMON --output_dir "$OUT/$name" "$@"; }
# Reports go beside the pipelines (eval_NAME), where benchmarks/collect_results.py reads them (it skips pipeline folders).
evaluate() { python examples/evaluate_symmflow.py --pipeline "$OUT/$1" $EVAL --output_dir "$OUT/eval_$1"; }

# Table 6: the paper's model (its learning rate and warm-up share) and the project's default (its own settings).
train cls_paper --preset paper --beta 4 --learning_rate 5e-4 --lr_warmup_steps $WARMUP
evaluate cls_paper
train cls_default
evaluate cls_default
# The paper's model without its EMA: at this budget a constant 0.999 EMA still holds most of the initial weights.
train cls_paper_no_ema --preset paper --beta 4 --learning_rate 5e-4 --lr_warmup_steps $WARMUP --no-use_ema
evaluate cls_paper_no_ema
# The discriminative classifier: same UNet, batch and steps, a small learning-rate grid.
for lr in 5e-4 1e-3 2e-3; do
  python benchmarks/train_discriminative_baseline.py --task classification --unet_preset narrow \
    --max_train_steps $STEPS --train_batch_size $BATCH --learning_rate $lr --lr_warmup_steps $WARMUP \
    > "$OUT/discriminative_lr$lr.json"
done
# Table 5's analogue: segmentation of the quickstart's masks with the paper's palette code, at the README's budget.
python examples/train_symmflow.py --preset paper --report_to none --num_validation_images 0 --output_dir "$OUT/seg_paper"
python examples/evaluate_symmflow.py --pipeline "$OUT/seg_paper" --task segmentation --steps 1 2 5 10 20 25 \
  --generation_steps 25 --num_generated 200 --no_progress --output_dir "$OUT/eval_seg_paper"
python examples/train_symmflow.py --preset paper --no-use_ema --report_to none --num_validation_images 0 \
  --output_dir "$OUT/seg_paper_no_ema"
python examples/evaluate_symmflow.py --pipeline "$OUT/seg_paper_no_ema" --task segmentation \
  --steps 1 2 5 10 20 25 --generation_steps 25 --num_generated 200 --no_progress --output_dir "$OUT/eval_seg_paper_no_ema"
python benchmarks/collect_results.py "$OUT" --out examples/research_projects/paper_tables/results.json
