#!/usr/bin/env bash
# The paper's COCO-Stuff segmentation / mask-to-image model (Tables 5 and 9), trained as the authors' code trains it.
# First build the dataset once: COCO-Stuff's raw mask ids (182, 11 of them unused) remapped to the 171 contiguous
# classes and 255 (unlabelled), as the authors do (`diffusers_symmflow.coco_stuff_id_map`):
#   python examples/recipes/prepare_coco_stuff.py --images train2017 \
#       --masks stuffthingmaps_trainval2017/train2017 --output coco-stuff-171
# --preset paper, latent row: see celebamask_hq.sh (palette masks through the VAE, velocity head, weight 0.7, uniform
# and diagonal time, AdamW without decay, no clipping, constant EMA 0.9, OneCycleLR from 1e-6).
# Dataset-specific, from the authors' command: Stable Diffusion 2.1's UNet widened to 4 + 4 channels (kernels
# duplicated), the sd-vae-ft-mse VAE; 512x512, their palette (6x6x6 grid, step 50; unlabelled pixels get the extra
# colour 250,250,250 and are ignored by the metrics), beta 6, lr 8e-5, 200 epochs, 10 warm-up epochs, bf16. Batch:
# their loader's 32 per process on 4 GPUs, a global batch of 128. Time input: see celebamask_hq.sh.
set -euo pipefail
accelerate launch --multi_gpu --num_processes 4 examples/train_symmflow.py \
  --preset paper \
  --pretrained_model_name_or_path stabilityai/stable-diffusion-2-1 --vae_name_or_path stabilityai/sd-vae-ft-mse \
  --conv_in_init duplicate \
  --dataset_name coco-stuff-171 --image_column image --mask_column mask --task segmentation \
  --num_classes 171 --palette coco-stuff --ignore_index 255 --resolution 512 --beta 6 \
  --train_batch_size 32 --num_train_epochs 200 --learning_rate 8e-5 --lr_warmup_epochs 10 --mixed_precision bf16 \
  --validation_steps 2000 --validation_prediction_steps 1 --validation_inference_steps 25 \
  --checkpointing_steps 2000 --output_dir symmflow-coco-stuff-paper "$@"
