# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Validation during training: score the pipeline's segmentation / classification on the validation set and build
the image grids a tracker shows and the model card links, without touching the run's random state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ..evaluation.metrics import label_confusion_matrix, label_scores


@dataclass
class ValidationResult:
    """What `run_validation` returns.

    Args:
        metrics (`dict[str, float]`): the scores of `label_scores`, in [0, 1] (segmentation: `mean_iou`,
            `pixel_accuracy`; classification: `accuracy`).
        grid (`np.ndarray` or `None`): uint8 `[R * H, N * W, 3]`: images generated from the first validation labels
            (and for segmentation a row of those masks), or `None` when no image was asked for.
        segmentations (`np.ndarray` or `None`): segmentation: uint8 rows of the first validation images, their true
            masks and the predicted masks; `None` otherwise or when no image was asked for.
    """

    metrics: dict[str, float]
    grid: np.ndarray | None = None
    segmentations: np.ndarray | None = None


def rgb_uint8(images: np.ndarray) -> np.ndarray:
    """Float images `[N, H, W, C]` in [0, 1] (C = 1 or 3) as uint8 RGB `[N, H, W, 3]`, for grids."""
    images = (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def image_grid(rows: list[np.ndarray]) -> np.ndarray:
    """Tile rows of uint8 images `[N, H, W, 3]` (same N, H, W) into one `[R * H, N * W, 3]` image."""
    return np.concatenate([np.concatenate(list(row), axis=1) for row in rows], axis=0)


@torch.no_grad()
def run_validation(
    pipe,
    dataloader: Iterable[dict],
    task: str,
    prediction_steps: int = 1,
    inference_steps: int = 25,
    num_images: int = 8,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> ValidationResult:
    """Segment / classify the validation set with `pipe`, and generate images from its first labels.

    Runs on the weights currently in `pipe.unet` (the caller swaps in an EMA), in eval mode (restored after), with
    its own generator, and leaves every global RNG as it found it: validating never changes the training run.

    Args:
        pipe (`SymmFlowPipeline`): the pipeline being trained; its progress bar is turned off.
        dataloader (iterable of dicts): batches of `collate_fn` (`pixel_values` in [-1, 1], `labels`).
        task (`str`): `"segmentation"` or `"classification"`.
        prediction_steps (`int`, defaults to 1): solver steps of `segment` / `classify` (the paper's best: 1).
        inference_steps (`int`, defaults to 25): solver steps of the generated images (the paper's: 25).
        num_images (`int`, defaults to 8): images to generate and show (0: no grids).
        seed (`int`, defaults to 0): seed of the validation noise.
        device (`torch.device` or `str`, *optional*): where the noise is drawn; defaults to `pipe.device`.

    Returns:
        `ValidationResult`.

    Raises:
        ValueError: if `dataloader` yields no batch.
    """
    device = torch.device(device) if device is not None else pipe.device
    unet = pipe.unet
    was_training = unet.training
    unet.eval()
    pipe.set_progress_bar_config(disable=True)
    devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            return _validate(pipe, dataloader, task, prediction_steps, inference_steps, num_images, seed, device)
    finally:
        if was_training:
            unet.train()


def _validate(
    pipe,
    dataloader: Iterable[dict],
    task: str,
    prediction_steps: int,
    inference_steps: int,
    num_images: int,
    seed: int,
    device: torch.device,
) -> ValidationResult:
    """`run_validation` inside its RNG fork, in eval mode."""
    generator = torch.Generator(device=device).manual_seed(seed)
    confusion, examples, shown_images, predictions = None, [], [], []
    for batch in dataloader:
        # [0, 1] floats: the pipeline's image processor reads a tensor with no negative value as [0, 1].
        images = (batch["pixel_values"] + 1.0) / 2.0
        if task == "segmentation":
            predicted = pipe.segment(
                images, num_inference_steps=prediction_steps, generator=generator, output_type="pt"
            ).masks
        else:
            predicted = pipe.classify(images, num_inference_steps=prediction_steps, generator=generator).labels
        batch_confusion = label_confusion_matrix(predicted, batch["labels"], pipe.label_codec)
        confusion = batch_confusion if confusion is None else confusion + batch_confusion
        if len(examples) < num_images:
            take = num_images - len(examples)
            examples += list(batch["labels"][:take])
            if task == "segmentation":
                shown_images += list(images[:take])
                predictions += list(predicted[:take])
    if confusion is None:
        raise ValueError(
            "The validation set is empty (`dataloader` yielded no batch); check the data's `max_eval_samples` / "
            "`validation_split`."
        )
    result = ValidationResult(metrics=label_scores(confusion, pipe.label_codec))
    if not examples:
        return result
    labels = torch.stack(examples)
    if task == "segmentation":
        generated = pipe(
            mask=labels, num_inference_steps=inference_steps, generator=generator, output_type="np"
        ).images
        label_row = pipe.label_codec.colorize(labels)
    else:
        generated = pipe(
            class_labels=labels, num_inference_steps=inference_steps, generator=generator, output_type="np"
        ).images
        label_row = None
    generated = rgb_uint8(generated)
    result.grid = image_grid([generated] if label_row is None else [generated, label_row])
    if shown_images:
        # Rows: validation images, their true masks (the labels above), the predicted masks.
        shown = rgb_uint8(pipe.image_processor.pt_to_numpy(torch.stack(shown_images)))
        result.segmentations = image_grid([shown, label_row, pipe.label_codec.colorize(torch.stack(predictions))])
    return result
