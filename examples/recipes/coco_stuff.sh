#!/usr/bin/env bash
# The paper's COCO-Stuff segmentation / mask-to-image model (Table 9; the authors' code where the paper is silent).
# First build the dataset once: COCO-Stuff's raw mask ids (182, 11 of them unused) remapped to the 171 contiguous
# classes and 255 (unlabelled), as the authors do (`diffusers_symmflow.coco_stuff_id_map`):
#   python examples/recipes/prepare_coco_stuff.py --images train2017 \
#       --masks stuffthingmaps_trainval2017/train2017 --output coco-stuff-171
# Latent: Stable Diffusion 2.1's UNet widened to 4 + 4 channels (conv kernels duplicated, the authors' rule), the
# sd-vae-ft-mse VAE. 512x512, the authors' palette (6x6x6 grid, step 50; unlabelled pixels get the extra colour
# 250,250,250 and are ignored by the metrics), beta 6, image-loss weight 0.7, the paper's diagonal label time. AdamW
# lr 8e-5, weight decay 0, no clipping, batch 32 on 4 GPUs (8 per GPU), 200 epochs, 10 warm-up epochs, cosine
# schedule, EMA 0.9 every step, bf16 mixed precision.
set -euo pipefail
accelerate launch --multi_gpu --num_processes 4 examples/train_symmflow.py \
  --pretrained_model_name_or_path stabilityai/stable-diffusion-2-1 --vae_name_or_path stabilityai/sd-vae-ft-mse \
  --conv_in_init duplicate \
  --dataset_name coco-stuff-171 --image_column image --mask_column mask --task segmentation \
  --num_classes 171 --palette coco-stuff --ignore_index 255 --resolution 512 \
  --label_encoding palette --beta 6 --label_time diagonal --label_prediction velocity --label_input raw --image_loss_weight 0.7 --sigma_min 1e-4 \
  --train_batch_size 8 --num_train_epochs 200 --learning_rate 8e-5 \
  --lr_scheduler cosine --lr_warmup_epochs 10 --adam_weight_decay 0 --max_grad_norm 0 \
  --use_ema --ema_decay 0.9 --mixed_precision bf16 \
  --validation_steps 2000 --validation_prediction_steps 1 --validation_inference_steps 25 \
  --checkpointing_steps 2000 --output_dir symmflow-coco-stuff-paper "$@"
