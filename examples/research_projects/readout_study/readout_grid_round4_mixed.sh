# Round 4 (README.md, section 1f): the label-time model (--label_time mixed) with a readout share, generating in
# the conditional mode (label held clean), which section 1 and round 3 found above the joint ODE in class consistency;
# and the image-loss weight above the authors' 0.9 for the diagonal model.
#
#   bash examples/research_projects/readout_study/readout_grid.sh OUT_DIR 16 364 examples/research_projects/readout_study/readout_grid_round4_mixed.sh
evals=150,250,364
gen="--score_generation 300 --generation_modes conditional,joint"
mixed="--mode symmflow --label_param logits --label_input gated --label_time mixed"
runs=(
  "cls_r4_diag_rp0_w0.95|$cls $logits --image_loss_weight 0.95 --lr 5e-4 --score_generation 300"
  "cls_r4_diag_rp0.25_w0.95|$cls $logits --readout_probability 0.25 --image_loss_weight 0.95 --lr 5e-4 --score_generation 300"
  "cls_r4_mixed_rp0.5_w0.95|$cls $mixed --readout_probability 0.5 --image_loss_weight 0.95 --lr 5e-4 $gen"
)
for seed in 0 1; do
  runs+=(
    "cls_r4_mixed_rp0_w0.9_seed$seed|$cls $mixed --image_loss_weight 0.9 --lr 5e-4 --seed $seed $gen"
    "cls_r4_mixed_rp0.25_w0.9_seed$seed|$cls $mixed --readout_probability 0.25 --image_loss_weight 0.9 --lr 5e-4 --seed $seed $gen"
  )
done
for seed in 1 2 3; do
  runs+=("cls_r4_mixed_rp0.5_w0.9_seed$seed|$cls $mixed --readout_probability 0.5 --image_loss_weight 0.9 --lr 5e-4 --seed $seed $gen")
done
runs+=("cls_r4_mixed_rp0.5_w0.9_s1000|$cls $mixed --readout_probability 0.5 --image_loss_weight 0.9 --lr 5e-4 $gen --steps 1000 --eval_steps 364,1000")
