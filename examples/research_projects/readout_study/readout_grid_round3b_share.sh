# Round 3b (README.md, section 1f): a quarter of each classification batch at the readout's point, with the
# authors' image-loss weight 0.9: seeds, a smaller share, and 1,000 steps, next to the model without a share.
#
#   bash examples/research_projects/readout_study/readout_grid.sh OUT_DIR 16 364 examples/research_projects/readout_study/readout_grid_round3b_share.sh
evals=150,250,364
gen="--score_generation 300"
runs=(
  "cls_r3b_rp0.25_w0.9_lr1e-3|$cls $logits --readout_probability 0.25 --image_loss_weight 0.9 --lr 1e-3 $gen"
  "cls_r3b_rp0.25_w0.9_s1000|$cls $logits --readout_probability 0.25 --image_loss_weight 0.9 --lr 5e-4 --seed 1 $gen --steps 1000 --eval_steps 364,1000"
  "cls_r3b_rp0_w0.9_s1000|$cls $logits --image_loss_weight 0.9 --lr 5e-4 --seed 1 $gen --steps 1000 --eval_steps 364,1000"
)
for seed in 1 2 3; do
  runs+=("cls_r3b_rp0.25_w0.9_seed$seed|$cls $logits --readout_probability 0.25 --image_loss_weight 0.9 --lr 5e-4 --seed $seed $gen")
done
for seed in 2 3; do
  runs+=("cls_r3b_rp0_w0.9_seed$seed|$cls $logits --image_loss_weight 0.9 --lr 5e-4 --seed $seed $gen")
done
for seed in 0 1; do
  runs+=("cls_r3b_rp0.15_w0.9_seed$seed|$cls $logits --readout_probability 0.15 --image_loss_weight 0.9 --lr 5e-4 --seed $seed $gen")
done
