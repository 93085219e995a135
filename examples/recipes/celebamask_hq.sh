#!/usr/bin/env bash
# The paper's CelebAMask-HQ segmentation / mask-to-image model (Table 9; the authors' code where the paper is silent).
# Latent: Stable Diffusion 2.1's UNet widened to 4 + 4 channels (conv_in / conv_out kernels duplicated, as the
# authors do: --conv_in_init duplicate), the sd-vae-ft-mse VAE, empty-prompt text embedding. 512x512 images and
# masks coloured with the dataset's 19-colour palette (ignore index 0, the background, in metrics), beta 10,
# image-loss weight 0.7, the paper's diagonal label time. AdamW lr 8e-5, weight decay 0, no clipping, batch 32 on
# 2 GPUs (16 per GPU), 200 epochs, 10 warm-up epochs, cosine schedule, EMA 0.9 every step, bf16 mixed precision.
set -euo pipefail
accelerate launch --multi_gpu --num_processes 2 examples/train_symmflow.py \
  --pretrained_model_name_or_path stabilityai/stable-diffusion-2-1 --vae_name_or_path stabilityai/sd-vae-ft-mse \
  --conv_in_init duplicate \
  --dataset_name eurecom-ds/celeba_hq_mask --image_column image --mask_column mask --task segmentation \
  --num_classes 19 --palette celebamask-hq --ignore_index 0 --resolution 512 \
  --label_encoding palette --beta 10 --label_time diagonal --label_prediction velocity --label_input raw --image_loss_weight 0.7 --sigma_min 1e-4 \
  --train_batch_size 16 --num_train_epochs 200 --learning_rate 8e-5 \
  --lr_scheduler cosine --lr_warmup_epochs 10 --adam_weight_decay 0 --max_grad_norm 0 \
  --use_ema --ema_decay 0.9 --mixed_precision bf16 \
  --validation_steps 2000 --validation_prediction_steps 1 --validation_inference_steps 25 \
  --checkpointing_steps 2000 --output_dir symmflow-celebamask-hq-paper "$@"
