# Round 3 (README.md, section 1f): does keeping the class label on its exact noising path during generation
# (`sampling_mode="replacement"`) give back the class consistency that the readout share costs in the joint ODE?
# Each model is scored in both modes on the same judge, labels and noise, at issue 11's budget (364 x 128).
# The mode was measured worse than the joint ODE everywhere and removed afterwards: run this at commit b2cf5e2.
#
#   bash examples/research_projects/readout_study/readout_grid.sh OUT_DIR 16 364 examples/research_projects/readout_study/readout_grid_round3_replacement.sh
evals=150,250,364
gen="--score_generation 300 --generation_modes joint,replacement"
paper_head="--mode symmflow --label_param velocity --label_input raw --label_time diagonal --image_loss_weight 0.9"
runs=(
  "cls_r3_paper|$cls $paper_head --lr 5e-4 $gen"
  "cls_r3_rp0.5_w0.9_mixed|$cls --mode symmflow --label_param logits --label_input gated --label_time mixed --readout_probability 0.5 --image_loss_weight 0.9 --lr 5e-4 --score_generation 300 --generation_modes joint,replacement,conditional"
  "cls_r3_rp0.75_w0.5|$cls $logits --readout_probability 0.75 --image_loss_weight 0.5 --lr 5e-4 $gen"
  "cls_r3_rp0.5_w0.9_s1000|$cls $logits --readout_probability 0.5 --image_loss_weight 0.9 --lr 5e-4 $gen --steps 1000 --eval_steps 364,1000"
  "cls_r3_rp0.25_w0.5|$cls $logits --readout_probability 0.25 --image_loss_weight 0.5 --lr 5e-4 $gen"
  "cls_r3_rp0.25_w0.9|$cls $logits --readout_probability 0.25 --image_loss_weight 0.9 --lr 5e-4 $gen"
  "seg_r3_rp0.5_w0.2|$seg $logits --readout_probability 0.5 --image_loss_weight 0.2 --lr 1e-3 $gen"
)
for seed in 0 1; do
  runs+=(
    "cls_r3_disc_seed$seed|$cls --mode discriminative --lr 5e-4 --seed $seed"
    "cls_r3_rp0_w0.9_seed$seed|$cls $logits --image_loss_weight 0.9 --lr 5e-4 --seed $seed $gen"
    "cls_r3_rp0.5_w0.9_seed$seed|$cls $logits --readout_probability 0.5 --image_loss_weight 0.9 --lr 5e-4 --seed $seed $gen"
    "cls_r3_rp0.5_w0.5_seed$seed|$cls $logits --readout_probability 0.5 --image_loss_weight 0.5 --lr 5e-4 --seed $seed $gen"
  )
done
