# Generation next to the readout (README.md, section 1e): FID and class consistency of 300 digits generated at
# 25 steps (readout_study.py --score_generation, evaluate_symmflow.py's protocol) for the classification models with
# and without the readout share, at issue 11's budget (364 steps of batch 128), at 1,000 steps, and at section 1's
# batch 8 for 3,378 steps.
#
#   bash examples/research_projects/readout_study/readout_grid.sh OUT_DIR 11 364 examples/research_projects/readout_study/readout_grid_round2_generation.sh
evals=364
gen="--score_generation 300"
paper_head="--mode symmflow --label_param velocity --label_input raw --label_time diagonal --image_loss_weight 0.9"
runs=(
  "cls_gen_rp0.5_w0.9_s364|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.9 --lr 5e-4 $gen"
  "cls_gen_rp0_w0.9_s364|$cls $logits --image_loss_weight 0.9 --lr 5e-4 $gen"
  "cls_gen_rp0.5_w0.5_s364|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 5e-4 $gen"
  "cls_gen_paper_s364|$cls $paper_head --lr 5e-4 $gen"
  "cls_gen_rp0.5_w0.9_s1000|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.9 --lr 5e-4 $gen --steps 1000 --eval_steps 364,1000"
  "cls_gen_rp0_w0.9_s1000|$cls $logits --image_loss_weight 0.9 --lr 5e-4 $gen --steps 1000 --eval_steps 364,1000"
  "cls_gen_rp0.5_w0.5_s1000|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.5 --lr 5e-4 $gen --steps 1000 --eval_steps 364,1000"
  "cls_gen_paper_s1000|$cls $paper_head --lr 1e-3 $gen --steps 1000 --eval_steps 364,1000"
  "cls_gen_b8_rp0.5_w0.9|$cls $logits --readout_probability 0.5 --readout_image_loss --image_loss_weight 0.9 --lr 5e-4 --batch 8 $gen --steps 3378 --eval_steps 1000,3378"
  "cls_gen_b8_rp0_w0.9|$cls $logits --image_loss_weight 0.9 --lr 5e-4 --batch 8 $gen --steps 3378 --eval_steps 1000,3378"
  "cls_gen_b8_paper|$cls $paper_head --lr 5e-4 --batch 8 $gen --steps 3378 --eval_steps 1000,3378"
)
