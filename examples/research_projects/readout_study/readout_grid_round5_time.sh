# Round 5 (README.md, section 1f): can the generation side learn class identity sooner, next to a readout share?
# Logit-normal time sampling shifted toward the generation's start (mean < 0: noisy image, clean label; the readout
# share keeps its samples at t = 1), and an EMA of the weights for scoring and generating. Weight 0.9, lr 5e-4.
#
#   bash examples/research_projects/readout_study/readout_grid.sh OUT_DIR 16 364 examples/research_projects/readout_study/readout_grid_round5_time.sh
evals=150,250,364
gen="--score_generation 300"
base="$cls $logits --image_loss_weight 0.9 --lr 5e-4 $gen"
runs=(
  "cls_r5_rp0_ln-0.5|$base --time_sampling logit_normal --logit_mean -0.5"
  "cls_r5_rp0.25_ln0|$base --readout_probability 0.25 --time_sampling logit_normal --logit_mean 0"
  "cls_r5_rp0.5_ln-1|$base --readout_probability 0.5 --time_sampling logit_normal --logit_mean -1"
  "cls_r5_rp0_ema0.99|$base --ema_decay 0.99"
)
for seed in 0 1; do
  runs+=(
    "cls_r5_rp0.25_ln-0.5_seed$seed|$base --readout_probability 0.25 --time_sampling logit_normal --logit_mean -0.5 --seed $seed"
    "cls_r5_rp0.25_ln-1_seed$seed|$base --readout_probability 0.25 --time_sampling logit_normal --logit_mean -1 --seed $seed"
    "cls_r5_rp0.25_ema0.99_seed$seed|$base --readout_probability 0.25 --ema_decay 0.99 --seed $seed"
  )
done
