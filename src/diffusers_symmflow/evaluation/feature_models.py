# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The networks the generation scores look through, besides a user's FID feature extractor (`fid.py`).

* The default feature network: a `FeatureClassifier` trained offline on the real images
  (`build_default_feature_classifier`); its features give FID / KID and its predictions the class consistency. A
  mask's class is its majority class not counting `default_excluded_classes`.
* LPIPS (`lpips.LPIPS(net="alex")`), used only when the `lpips` package and its AlexNet weights are already on disk
  (`load_lpips` never downloads).
"""

import importlib
import os
from collections.abc import Sequence
from typing import Any

import torch

from .data import iter_batches, make_generators, reiterable
from .fid import FeatureClassifier, train_feature_classifier
from .metrics import mask_majority_class


# torchvision's file name for the AlexNet weights that `lpips.LPIPS(net="alex")` loads through torch.hub.
LPIPS_ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"


def default_excluded_classes(pipe) -> list[int]:
    """Classes that do not name what a mask shows: `ignore_index` when it is a class, and the model's
    `background_class` (the class `pipe.classify` leaves out of a segmentation's majority), or, for a model without
    one, classes named "background" (any case). `mask_majority_class` skips them when it gives a mask one class."""
    codec = pipe.label_codec
    ignore_index = codec.ignore_index
    excluded = [ignore_index] if ignore_index is not None and 0 <= ignore_index < codec.num_classes else []
    background = pipe.config.get("background_class")
    if background is not None:
        return excluded + [background] if background not in excluded else excluded
    names = pipe.config.class_names or []
    excluded += [i for i, name in enumerate(names) if str(name).strip().lower() == "background" and i not in excluded]
    return excluded


def image_classes(labels: torch.Tensor, pipe, exclude: Sequence[int]) -> torch.Tensor:
    """One class per item `[B]`: the class id itself, or the mask's majority class not counting `exclude` (-1 for a
    mask with none)."""
    if pipe.config.task == "classification":
        return labels
    return mask_majority_class(labels, pipe.config.num_classes, exclude=exclude)


def build_default_feature_classifier(
    pipe,
    dataset,
    exclude_classes: Sequence[int] | None = None,
    num_steps: int = 500,
    batch_size: int = 64,
    max_images: int | None = 10_000,
    seed: int = 0,
    progress: bool = True,
) -> tuple[FeatureClassifier, dict[str, Any]]:
    """Train the offline default feature network: a `FeatureClassifier` on the real images of `dataset`.

    Its classes are the items' class ids (classification) or each mask's majority class not counting
    `exclude_classes` (segmentation; masks without a countable pixel are left out).

    Args:
        pipe (`SymmFlowPipeline`): gives the image channels, K and the device.
        dataset: re-iterable items as for `evaluate_segmentation` / `evaluate_classification`.
        exclude_classes (sequence of `int`, *optional*): see `default_excluded_classes` (the default).
        num_steps (`int`, defaults to 500): optimizer steps.
        batch_size (`int`, defaults to 64): images per optimizer step.
        max_images (`int`, *optional*, defaults to 10,000): learn from the first `max_images` items only; they are
            held in memory at once (for large images, pass a `feature_extractor` to the evaluation instead).
        seed (`int`, defaults to 0): seeds the initial weights and the batch draws.
        progress (`bool`, defaults to `True`): show the training's progress bar.

    Returns:
        `(classifier, info)`: the trained classifier in eval mode on the pipeline's device, and
        `{"train_images", "steps", "seconds", "train_accuracy"}`.
    """
    task = pipe.config.task
    exclude = default_excluded_classes(pipe) if exclude_classes is None else list(exclude_classes)
    images, classes, num_read = [], [], 0
    for batch in iter_batches(reiterable(dataset), 256, task):
        take = batch.images.shape[0] if max_images is None else min(batch.images.shape[0], max_images - num_read)
        images.append(batch.images[:take])
        classes.append(image_classes(batch.labels[:take], pipe, exclude))
        num_read += take
        if max_images is not None and num_read >= max_images:
            break
    if not images:
        raise ValueError("The data for the feature classifier is empty.")
    images, classes = torch.cat(images), torch.cat(classes)
    keep = classes >= 0
    images, classes = images[keep], classes[keep]
    if images.shape[0] < 2:
        raise ValueError(f"The feature classifier needs at least 2 images with a class, got {images.shape[0]}.")
    device = pipe._execution_device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = FeatureClassifier(in_channels=images.shape[1], num_classes=pipe.config.num_classes).to(device)
    generator = make_generators(seed, [0], "feature_classifier")[0]
    training = train_feature_classifier(
        classifier, images, classes, num_steps=num_steps, batch_size=batch_size, generator=generator, progress=progress
    )
    info = {
        "train_images": int(images.shape[0]),
        "steps": training.steps,
        "seconds": training.seconds,
        "train_accuracy": training.train_accuracy,
    }
    return classifier, info


def lpips_weights_path() -> str:
    """Where torch.hub keeps the AlexNet weights that `lpips.LPIPS(net="alex")` needs."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", LPIPS_ALEXNET_WEIGHTS)


def load_lpips(device) -> tuple[Any, str | None]:
    """`(lpips_model, None)`, or `(None, why not)`; never downloads (the weights must already be on disk)."""
    try:
        lpips = importlib.import_module("lpips")
    except ImportError as error:
        return None, f"LPIPS not measured: the `lpips` package cannot be imported ({error})."
    if not os.path.isfile(lpips_weights_path()):
        return None, (
            f"LPIPS not measured: the AlexNet weights are not on disk at {lpips_weights_path()} "
            "(the runner does not download them)."
        )
    return lpips.LPIPS(net="alex", verbose=False).to(device).eval(), None


def lpips_input(images: torch.Tensor, device) -> torch.Tensor:
    """[0, 1] images to the 3-channel [-1, 1] input of LPIPS' AlexNet."""
    images = images.to(device) * 2 - 1
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def lpips_to_real(lpips_model, real: torch.Tensor, generated: torch.Tensor, device) -> torch.Tensor:
    """LPIPS distance `[B]` between real images and the images generated from their labels (the authors' protocol).

    Args:
        lpips_model: an `lpips.LPIPS` network (or any module with its `(image_0, image_1)` signature).
        real: images `[B, C, H, W]` in [0, 1]; the first argument of the network, as in the authors' evaluation.
        generated: images `[B, C, H, W]` in [0, 1], image `i` made from the label of `real[i]`.
    """
    return lpips_model(lpips_input(real, device), lpips_input(generated, device)).flatten()
