#!/usr/bin/env bash
# The paper's CelebAMask-HQ segmentation / mask-to-image model (Tables 5 and 9), trained as the authors' code trains it.
# --preset paper, latent row: masks as palette colours through the VAE, velocity head, raw label input, image-loss
# weight 0.7, uniform and diagonal time, AdamW without weight decay, no clipping, an EMA at a constant 0.9 from the
# first step, OneCycleLR from 1e-6.
# Dataset-specific, from the authors' command: Stable Diffusion 2.1's UNet widened to 4 + 4 channels (conv_in /
# conv_out kernels duplicated, as they do: --conv_in_init duplicate), the sd-vae-ft-mse VAE, the empty-prompt text
# embedding; 512x512 images and masks in the dataset's 19-colour palette (ignore index 0, the background, in metrics),
# beta 10, lr 8e-5, 200 epochs, 10 warm-up epochs, bf16. Batch: their loader's 32 per process on 2 GPUs, a global
# batch of 64.
# The UNet receives (1 - t) * 1000 where the authors feed raw t in [0, 1]: the pretrained timestep embedding was
# trained on the 0-1000 scale (1000 = noise), so raw t would present every time as an almost clean input to it.
set -euo pipefail
accelerate launch --multi_gpu --num_processes 2 examples/train_symmflow.py \
  --preset paper \
  --pretrained_model_name_or_path stabilityai/stable-diffusion-2-1 --vae_name_or_path stabilityai/sd-vae-ft-mse \
  --conv_in_init duplicate \
  --dataset_name eurecom-ds/celeba_hq_mask --image_column image --mask_column mask --task segmentation \
  --num_classes 19 --palette celebamask-hq --ignore_index 0 --resolution 512 --beta 10 \
  --train_batch_size 32 --num_train_epochs 200 --learning_rate 8e-5 --lr_warmup_epochs 10 --mixed_precision bf16 \
  --validation_steps 2000 --validation_prediction_steps 1 --validation_inference_steps 25 \
  --checkpointing_steps 2000 --output_dir symmflow-celebamask-hq-paper "$@"
