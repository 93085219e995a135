# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The outputs of `SymmFlowPipeline`'s entry points (`BaseOutput` dataclasses, as in diffusers' pipeline folders)."""

from dataclasses import dataclass

import numpy as np
import PIL.Image
import torch
from diffusers.utils import BaseOutput


@dataclass
class SymmFlowGenerationOutput(BaseOutput):
    """Output of `SymmFlowPipeline.__call__`.

    Args:
        images (`list[PIL.Image.Image]`, `np.ndarray` or `torch.Tensor`):
            The generated images: PIL images (`"L"` for one channel, `"RGB"` for three), a float32 array
            `[B, H, W, C]` in [0, 1], or a float tensor `[B, C, H, W]` in [0, 1]. With `output_type="latent"`, the
            image side of the final state, `[B, num_image_channels, h, w]` in model space, not decoded: VAE latents
            times `scaling_factor` for latent models, the unclamped image in about [-1, 1] for pixel models.
    """

    images: list[PIL.Image.Image] | np.ndarray | torch.Tensor


@dataclass
class SymmFlowSegmentationOutput(BaseOutput):
    """Output of `SymmFlowPipeline.segment`.

    With `output_type="latent"`, `masks` is the label side of the final state, `[B * num_samples, num_label_channels,
    h, w]` in model space (the samples of image `i` in rows `i * num_samples` to `(i + 1) * num_samples - 1`), not
    decoded; `colored_masks`, `scores` and `uncertainty` are `None`.

    Args:
        masks: class ids, int64 `np.ndarray` / `torch.Tensor` `[B, H, W]`, or a list of `"P"` PIL images whose pixel
            values are the class ids (and whose palette is the model's, so they display coloured).
        colored_masks: the masks in the model's palette colours, uint8 `np.ndarray` `[B, H, W, 3]`, uint8
            `torch.Tensor` `[B, 3, H, W]`, or a list of `"RGB"` PIL images.
        scores (`np.ndarray` or `torch.Tensor` of shape `[B, K, H, W]`, float32): per-class probabilities that sum
            to 1 over `K`. With `num_samples == 1` they come from the label codec; with `num_samples > 1` they are
            the vote frequencies of the samples (a pixel where some samples voted for an `ignore_index` that has a
            code of its own sums to less than 1). A `torch.Tensor` for `output_type="pt"`, an array otherwise.
        uncertainty (`np.ndarray`, `torch.Tensor` or `None`): with `num_samples > 1`, float32 `[B, H, W]`, the entropy
            in nats of the per-pixel vote frequencies: 0 where all samples agree, at most `log(min(num_samples, K))`.
            `None` when `num_samples == 1`.
    """

    masks: list[PIL.Image.Image] | np.ndarray | torch.Tensor
    colored_masks: list[PIL.Image.Image] | np.ndarray | torch.Tensor | None
    scores: np.ndarray | torch.Tensor | None
    uncertainty: np.ndarray | torch.Tensor | None


@dataclass
class SymmFlowClassificationOutput(BaseOutput):
    """Output of `SymmFlowPipeline.classify`.

    Args:
        labels (`torch.Tensor` of shape `[B]`, int64): predicted class ids.
        scores (`torch.Tensor` of shape `[B, K]`, float32): per-class probabilities (from the label codec, averaged
            over the samples when `num_samples > 1`); `labels` is their argmax.
        class_names (`list[str]` or `None`): the names of the predicted classes, when the model has class names.
    """

    labels: torch.Tensor
    scores: torch.Tensor
    class_names: list[str] | None


@dataclass
class SymmFlowInversionOutput(BaseOutput):
    """Output of `SymmFlowPipeline.invert`.

    Args:
        latents (`torch.Tensor` of shape `[B, num_image_channels, h, w]`): the image side after integrating the
            generation ODE backwards, in model space (VAE latents for latent models). With `strength=1` it is the
            noise that regenerates the image: `pipe(mask=mask, latents=latents)` with the same `num_inference_steps`.
        noise_level (`float`): the image's noise level the inversion reached (1.0 with `strength=1`).
        source_masks (`torch.Tensor` of shape `[B, H, W]`, int64): the masks the image was inverted with (given, or
            predicted by `segment`).
    """

    latents: torch.Tensor
    noise_level: float
    source_masks: torch.Tensor


@dataclass
class SymmFlowEditOutput(BaseOutput):
    """Output of `SymmFlowPipeline.edit`.

    Args:
        images: the edited images, as in `SymmFlowGenerationOutput`.
        source_masks (`torch.Tensor` of shape `[B, H, W]`, int64): the masks the images were inverted with (given,
            or predicted by `segment`).
    """

    images: list[PIL.Image.Image] | np.ndarray | torch.Tensor
    source_masks: torch.Tensor
