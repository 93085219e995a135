# Seeds for the second round (README.md, section 1e): repeats of its key comparisons at issue 11's budget.
#
#   bash examples/research_projects/readout_study/readout_grid.sh OUT_DIR 16 500 examples/research_projects/readout_study/readout_grid_round2_seeds.sh
evals=150,250,364,500
runs=()
for seed in 2 3; do
  runs+=(
    "cls_disc_lr1e-3_seed$seed|$cls --mode discriminative --lr 1e-3 --seed $seed"
    "cls_lg_rp0.5_w0.5_lr5e-4_seed$seed|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 5e-4 --seed $seed"
    "cls_lg_w0.5_lr5e-4_seed$seed|$cls $logits --image_loss_weight 0.5 --lr 5e-4 --seed $seed"
  )
done
runs+=(
  "cls_disc_lr5e-4_seed1|$cls --mode discriminative --lr 5e-4 --seed 1"
  "cls_disc_lr5e-4_seed2|$cls --mode discriminative --lr 5e-4 --seed 2"
  "cls_lg_rp0.5_w0.9_lr5e-4_seed1|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.9 --lr 5e-4 --seed 1"
  "cls_lg_rp0.5_w0.9_lr5e-4_seed2|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.9 --lr 5e-4 --seed 2"
  "seg_disc_lr5e-4_seed1|$seg --mode discriminative --lr 5e-4 --seed 1"
  "seg_disc_lr1e-3_seed1|$seg --mode discriminative --lr 1e-3 --seed 1"
  "seg_lg_rp0.5_w0.5_lr1e-3_seed1|$seg $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 1e-3 --seed 1"
  "seg_lg_w0.5_lr1e-3_seed1|$seg $logits --image_loss_weight 0.5 --lr 1e-3 --seed 1"
  "seg_lg_rp0.5_w0.2_lr1e-3|$seg $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.2 --lr 1e-3"
  "seg_lg_rp0.5_w0.2_lr2e-3|$seg $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.2 --lr 2e-3"
)
