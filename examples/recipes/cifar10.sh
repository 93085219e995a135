#!/usr/bin/env bash
# The paper's CIFAR-10 classification model (Table 6 / Table 8, CIFAR-10 column), trained as the authors' code trains
# it. --preset paper: see mnist.sh (scalar code, velocity head, weight 0.9, uniform and diagonal time, AdamW without
# decay, no clipping, constant EMA 0.999, OneCycleLR from 1e-6).
# Dataset-specific, from the authors' CIFAR-10 command: UNet 256 channels x (1,2,2,2), depth 2, heads of 64 channels,
# dropout 0 (`--unet_config cifar10`), 32x32 images, beta 4, lr 3e-4, batch 256 on one GPU, 200 epochs, 100 warm-up
# epochs.
set -euo pipefail
accelerate launch examples/train_symmflow.py \
  --preset paper --dataset_name uoft-cs/cifar10 --image_column img --label_column label --task classification \
  --num_classes 10 --resolution 32 --unet_config cifar10 --beta 4 \
  --train_batch_size 256 --num_train_epochs 200 --learning_rate 3e-4 --lr_warmup_epochs 100 \
  --validation_steps 5000 --validation_prediction_steps 1 --checkpointing_steps 5000 \
  --output_dir symmflow-cifar10-paper "$@"
