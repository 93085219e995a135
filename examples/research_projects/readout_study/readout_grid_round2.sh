# Second round of the readout study (README.md, section 1e): classification at issue 11's budget (364 steps),
# sampling part of each batch at the readout's point. Run before those samples left the image loss by default, hence
# --readout_image_loss (what these runs did). Used as RUNS_FILE by readout_grid.sh:
#
#   bash examples/research_projects/readout_study/readout_grid.sh OUT_DIR 16 750 examples/research_projects/readout_study/readout_grid_round2.sh
evals=100,150,250,364,500,750
save="--save_step 364 --save_pipeline $out/pipelines"
runs=(
  "cls_lg_rp0.5_w0.5_lr5e-4|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 5e-4 $save/cls_lg_rp0.5_w0.5_lr5e-4"
  "cls_lg_rp0.5_w0.5_lr1e-3|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 1e-3 $save/cls_lg_rp0.5_w0.5_lr1e-3"
  "cls_lg_rp0.25_w0.5_lr5e-4|$cls $logits --readout_probability 0.25 --readout_image_loss --image_loss_weight 0.5 --lr 5e-4"
  "cls_lg_rp0.25_w0.5_lr1e-3|$cls $logits --readout_probability 0.25 --readout_image_loss --image_loss_weight 0.5 --lr 1e-3"
  "cls_lg_rp0.75_w0.5_lr5e-4|$cls $logits --readout_probability 0.75 --readout_image_loss --image_loss_weight 0.5 --lr 5e-4"
  "cls_lg_rp0.5_w0.5_lr2e-3|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 2e-3"
  "cls_lg_rp0.5_w0.5_lr5e-4_seed1|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 5e-4 --seed 1"
  "cls_lg_rp0.5_w0.9_lr5e-4|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.9 --lr 5e-4 $save/cls_lg_rp0.5_w0.9_lr5e-4"
  "cls_lg_rp0.5_w0.9_lr1e-3|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.9 --lr 1e-3 $save/cls_lg_rp0.5_w0.9_lr1e-3"
  "cls_lg_mixed_rp0.5_w0.9_lr1e-3|$cls $logits --label_time mixed --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.9 --lr 1e-3 $save/cls_lg_mixed_rp0.5_w0.9_lr1e-3"
  "cls_lg_logitnormal1_w0.5_lr5e-4|$cls $logits --time_sampling logit_normal --logit_mean 1.0 --image_loss_weight 0.5 --lr 5e-4"
  "cls_lg_w0.5_lr5e-4_seed1|$cls $logits --image_loss_weight 0.5 --lr 5e-4 --seed 1 $save/cls_lg_w0.5_lr5e-4_seed1"
  "cls_lg_w0.9_lr5e-4|$cls $logits --image_loss_weight 0.9 --lr 5e-4 $save/cls_lg_w0.9_lr5e-4"
  "cls_disc_lr1e-3_seed1|$cls --mode discriminative --lr 1e-3 --seed 1"
  "seg_lg_rp0.5_w0.5_lr1e-3|$seg $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 1e-3"
  "seg_lg_rp0.5_w0.5_lr5e-4|$seg $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 5e-4"
)
