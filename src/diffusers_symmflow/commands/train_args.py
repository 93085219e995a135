# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The flags of `examples/train_symmflow.py` beside the dataset ones (`data_args.py`): the preset, the model, the
training, the checkpoints and output, and the validation.

A scripts' module (see `diffusers_symmflow.commands`): the flags carry the names of the library arguments they feed
(`diffusers_symmflow.training`, `SymmFlowObjective`), so the script's `as_flag_error` can turn a library error's
`` `name` `` into `--name`. The preset-governed flags (`PRESET_SETTINGS`) default to `None` here; the script parses
twice, the second time with the chosen preset row as the defaults, so a flag given always wins.
"""

import argparse

from diffusers_symmflow.models import LABEL_INPUTS, LABEL_PREDICTIONS, PIXEL_UNET_PRESETS
from diffusers_symmflow.models.unets.unet_symmflow_2d_condition import CONV_IN_INITS
from diffusers_symmflow.objective import LABEL_TIMES, TIME_SAMPLINGS
from diffusers_symmflow.training.presets import PRESETS


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--preset` and the model, training, checkpoint / output and validation flags of the training script to
    `parser` (the dataset flags are `add_data_arguments`'s)."""
    parser.add_argument(
        "--preset",
        type=str,
        default="symmflow",
        choices=sorted(PRESETS),
        help="Where the defaults of the task-dependent settings come from (any flag given wins): "
        "'symmflow' (the project's measured defaults) or 'paper' (the paper's model as the "
        "authors train it: their label code, velocity head, raw label input, image weight 0.9 / "
        "0.7 latent, uniform time, diagonal label time, AdamW without weight decay, no clipping, "
        "an EMA at a constant decay, OneCycleLR from 1e-6). See diffusers_symmflow.training.presets.",
    )

    model = parser.add_argument_group("model")
    model.add_argument(
        "--pretrained_model_name_or_path",
        type=str,
        default=None,
        help="A Stable Diffusion repo or directory (vae/, unet/, optionally text_encoder/ and "
        "tokenizer/) for the latent back-end. Default: a pixel-space UNet trained from scratch.",
    )
    model.add_argument(
        "--vae_name_or_path",
        type=str,
        default=None,
        help="Latent back-end: a VAE repo or directory to use instead of the Stable Diffusion repo's "
        "vae/ (the paper: stabilityai/sd-vae-ft-mse with the SD 2.1 UNet).",
    )
    model.add_argument(
        "--conv_in_init",
        type=str,
        default="halve",
        choices=CONV_IN_INITS,
        help="Latent back-end: how conv_in is widened to the label channels: 'halve' (duplicate the "
        "pretrained kernels, all scaled by 1/2, Marigold's choice) or 'duplicate' (plain "
        "duplication, the authors' choice).",
    )
    model.add_argument("--revision", type=str, default=None, help="Revision of the pretrained model on the Hub.")
    model.add_argument("--variant", type=str, default=None, help="Weights variant of the pretrained model, e.g. fp16.")
    model.add_argument(
        "--unet_config",
        type=str,
        default=None,
        help=f"Pixel back-end: a UNet preset ({', '.join(sorted(PIXEL_UNET_PRESETS))}; default 'narrow', "
        "the quickstart's, fast on a CPU) or a JSON file of UNet2DModel arguments overriding the "
        "'small' preset.",
    )
    model.add_argument(
        "--label_encoding",
        type=str,
        default=None,
        choices=["onehot", "scalar", "palette"],
        help="How class ids become the label channels (default: --preset's): 'onehot' (pixel "
        "back-end, 'symmflow'), 'scalar' "
        "(the authors' classification code, +-beta/2) or 'palette' (RGB colours; the latent "
        "back-end's).",
    )
    model.add_argument(
        "--beta",
        type=float,
        default=4.0,
        help="Total width of the label dequantization noise in 8-bit units (paper eq. 9): 4 for "
        "MNIST / CIFAR-10, 10 for CelebAMask-HQ, 6 for COCO-Stuff. With --label_encoding scalar "
        "the class code is +-beta/2 and its noise (beta/2)/(K-1) wide, as in the authors' code "
        "(0: codes +-1, no noise).",
    )
    model.add_argument(
        "--label_prediction",
        type=str,
        default=None,
        choices=LABEL_PREDICTIONS,
        help="What the label channels predict: 'logits' (class logits, cross-entropy; 'symmflow' "
        "for one-hot codes, measured to make the one-step readout learn several times faster) or "
        "'velocity' (the paper's, and the only choice for scalar / palette codes).",
    )
    model.add_argument(
        "--label_input",
        type=str,
        default=None,
        choices=LABEL_INPUTS,
        help="How the noisy label enters the model: 'gated' (scaled by 1 - s; 'symmflow' with "
        "the logits head) or 'raw' (the paper's). The paper's model: --preset paper.",
    )
    model.add_argument(
        "--image_loss_weight",
        type=float,
        default=None,
        help="Weight w of the image side of the loss (default: --preset's; the authors': 0.9 pixel, "
        "0.7 latent; 'symmflow' segmentation with the logits head: 0.2).",
    )
    model.add_argument(
        "--sigma_min", type=float, default=1e-4, help="Minimum noise level of the paths (the authors': 1e-4)."
    )
    model.add_argument(
        "--time_sampling",
        type=str,
        default=None,
        choices=TIME_SAMPLINGS,
        help="Distribution of the training time t: the paper's uniform, or logit-normal "
        "(sigmoid(--logit_mean + --logit_std * N(0, 1)); a positive mean favours clean images "
        "and noisy labels, the one-step readout's end, a negative one the generation's start). "
        "Default: --preset's ('symmflow' classification: logit_normal; otherwise uniform).",
    )
    model.add_argument(
        "--logit_mean",
        type=float,
        default=None,
        help="With --time_sampling logit_normal. Default: --preset's ('symmflow' classification: -1; "
        "otherwise 0, SD3's).",
    )
    model.add_argument("--logit_std", type=float, default=1.0, help="With --time_sampling logit_normal.")
    model.add_argument(
        "--label_time",
        type=str,
        default=None,
        choices=LABEL_TIMES,
        help="The label's noise level during training: 'diagonal' (the paper's and the default, equal "
        "to the image time; the model then samples in 'joint' mode only), 'independent', or "
        "'mixed' (the diagonal with probability --diagonal_probability). Non-diagonal options "
        "give the model a second time input and enable 'conditional' sampling and "
        "`pipe.invert` / `pipe.edit`, at a measured cost to the one-step readout "
        "(the readout study's section 1d; BENCHMARKS.md section 6).",
    )
    model.add_argument(
        "--diagonal_probability",
        type=float,
        default=0.5,
        help="With --label_time mixed: the fraction of samples on the paper's diagonal.",
    )
    model.add_argument(
        "--readout_probability",
        type=float,
        default=None,
        help="Share of each batch placed at the one-step readout's point (clean image, label noise), "
        "where the label side is the discriminative task itself: the one-step readout then learns "
        "about as fast as a discriminative model, at a cost to generation. Default: --preset's "
        "('symmflow' with the logits head: 0.5 segmentation, 0.25 classification; else 0, the "
        "paper's).",
    )
    model.add_argument(
        "--readout_image_loss",
        action="store_true",
        help="Count the --readout_probability samples in the image loss too (by default they train "
        "the label side only, so the image side keeps the paper's time distribution).",
    )
    model.add_argument(
        "--use_lora",
        action="store_true",
        help="Latent back-end: train LoRA adapters (plus conv_in / conv_out / label-time embedding) "
        "instead of the whole UNet.",
    )
    model.add_argument("--lora_rank", type=int, default=4, help="Rank of the LoRA adapters.")
    model.add_argument("--lora_alpha", type=int, default=None, help="LoRA alpha. Default: --lora_rank.")

    training = parser.add_argument_group("training")
    training.add_argument(
        "--output_dir",
        type=str,
        default="symmflow-mnist",
        help="Where the pipeline, its model card, the checkpoints and the logs go.",
    )
    training.add_argument("--seed", type=int, default=0, help="Seed of the model init, data order and noise.")
    training.add_argument(
        "--train_batch_size",
        type=int,
        default=12,
        help="Batch size per device (the CPU quickstart learns most per second with small batches).",
    )
    training.add_argument("--eval_batch_size", type=int, default=100, help="Batch size of validation.")
    training.add_argument("--num_train_epochs", type=int, default=2, help="Epochs, unless --max_train_steps is given.")
    training.add_argument(
        "--max_train_steps",
        type=int,
        default=None,
        help="Optimisation steps; overrides --num_train_epochs. Required with --streaming.",
    )
    training.add_argument(
        "--gradient_accumulation_steps", type=int, default=1, help="Batches accumulated per optimisation step."
    )
    training.add_argument(
        "--gradient_checkpointing",
        action="store_true",
        help="Recompute activations in the backward pass to save memory.",
    )
    training.add_argument("--learning_rate", type=float, default=2e-3, help="Peak learning rate (after warm-up).")
    training.add_argument(
        "--scale_lr", action="store_true", help="Scale the learning rate by processes x accumulation x batch size."
    )
    training.add_argument(
        "--lr_scheduler",
        type=str,
        default=None,
        help="\"one_cycle\" (the authors': torch's OneCycleLR from 1e-6, cosine warm-up over "
        '--lr_warmup_steps and cosine decay back to 1e-6), or one of diffusers\' "cosine" '
        '(linear warm-up from 0), "linear", "cosine_with_restarts", "polynomial", "constant", '
        '"constant_with_warmup". Default: --preset\'s ("symmflow": cosine).',
    )
    training.add_argument("--lr_warmup_steps", type=int, default=50, help="Warm-up steps of the LR scheduler.")
    training.add_argument(
        "--lr_warmup_epochs",
        type=float,
        default=None,
        help="Warm-up in epochs (the authors' unit), converted to steps; overrides "
        "--lr_warmup_steps. Not with --streaming.",
    )
    training.add_argument("--adam_beta1", type=float, default=0.9)
    training.add_argument("--adam_beta2", type=float, default=0.999)
    training.add_argument(
        "--adam_weight_decay",
        type=float,
        default=None,
        help="Default: --preset's ('symmflow': 1e-2, diffusers'; 'paper': 0, the authors').",
    )
    training.add_argument("--adam_epsilon", type=float, default=1e-8)
    training.add_argument(
        "--max_grad_norm",
        type=float,
        default=None,
        help="Gradient clipping norm; 0 turns clipping off (the authors clip nothing). Default: "
        "--preset's ('symmflow': 1.0).",
    )
    training.add_argument(
        "--use_ema",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Keep an exponential moving average of the weights; the saved pipeline gets it. "
        "Default: --preset's ('paper': on).",
    )
    training.add_argument(
        "--ema_decay",
        type=float,
        default=None,
        help="EMA decay (the authors': 0.999; 0.9 in their Stable Diffusion runs).",
    )
    training.add_argument(
        "--ema_constant_decay",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Use --ema_decay at every update after the first (which copies the weights), as the authors do, "
        "instead of diffusers' EMAModel ramp min(decay, (1 + n) / (10 + n)). Default: --preset's ('paper': on).",
    )
    training.add_argument(
        "--mixed_precision",
        type=str,
        default=None,
        choices=["no", "fp16", "bf16"],
        help="Default: the accelerate config's (no config: full precision).",
    )
    training.add_argument("--allow_tf32", action="store_true", help="Allow TF32 matmuls on Ampere+ GPUs.")
    training.add_argument(
        "--num_cpu_threads",
        type=int,
        default=None,
        help="Threads of a single-process CPU run. Default: every core when the run was started by "
        "`accelerate launch`, which pins OMP_NUM_THREADS=1 unless told otherwise (one core of "
        "a laptop); otherwise torch's own choice.",
    )
    training.add_argument(
        "--dataloader_num_workers",
        type=int,
        default=0,
        help="Data-loading worker processes (0: load in the main process).",
    )
    training.add_argument(
        "--shuffle_buffer_size", type=int, default=1000, help="With --streaming: size of the shuffle buffer."
    )

    state = parser.add_argument_group("checkpoints and output")
    state.add_argument(
        "--checkpointing_steps",
        type=int,
        default=500,
        help="Save the full training state every this many steps (checkpoint-N in --output_dir).",
    )
    state.add_argument(
        "--checkpoints_total_limit",
        type=int,
        default=None,
        help="Keep at most this many checkpoints (the oldest are deleted after a successful save).",
    )
    state.add_argument(
        "--resume_from_checkpoint",
        type=str,
        default=None,
        help="'latest' (the newest complete checkpoint in --output_dir, if any) or a checkpoint path.",
    )
    state.add_argument(
        "--save_pipeline_steps",
        type=int,
        default=None,
        help="Also write the pipeline and model card to --output_dir every this many steps.",
    )
    state.add_argument("--push_to_hub", action="store_true", help="Upload the pipeline and card to the Hub.")
    state.add_argument(
        "--hub_model_id", type=str, default=None, help="Hub repository. Default: the name of --output_dir."
    )
    state.add_argument("--hub_token", type=str, default=None, help="Hub token (default: the logged-in one).")
    state.add_argument("--hub_private_repo", action="store_true", help="Create the Hub repository as private.")
    state.add_argument("--logging_dir", type=str, default="logs", help="Tracker logs, under --output_dir.")
    state.add_argument(
        "--report_to",
        type=str,
        default="tensorboard",
        help='Trackers: "tensorboard" (default), "wandb", "comet_ml", "all" or "none".',
    )
    state.add_argument("--tracker_project_name", type=str, default="train_symmflow")

    validation = parser.add_argument_group("validation")
    validation.add_argument(
        "--validation_steps", type=int, default=500, help="Validate every this many steps (and at the end)."
    )
    validation.add_argument(
        "--validation_prediction_steps",
        type=int,
        default=1,
        help="Solver steps of validation segmentation / classification (the paper's best: 1).",
    )
    validation.add_argument(
        "--validation_inference_steps",
        type=int,
        default=25,
        help="Solver steps of the generated validation images (the paper's: 25).",
    )
    validation.add_argument(
        "--num_validation_images", type=int, default=8, help="Images generated for the validation grid (0: none)."
    )
