# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The evaluation runner's inputs: items read into checked batches, and the noise each image gets.

Data: any re-iterable collection (a list, a `datasets.Dataset`, ...) of items `{"pixel_values": float [C, H, W] in
[-1, 1], "labels": int64 [H, W] (segmentation) or a scalar (classification)}`; tensors, arrays and nested lists all
work. A one-shot iterator is read into a list first (`reiterable`), since the runner passes over the data several
times. `iter_batches` checks each batch and names the items at fault.

Noise: `make_generators` gives every image its own CPU generator seeded from `(seed, stream, index)`, so the noise
an image gets does not depend on the batch size, the device or what else runs beside it.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch


# Independent noise streams, so that segmenting an image and generating from its mask never share noise.
GENERATOR_STREAMS = {"prediction": 0, "generation": 1, "round_trip": 2, "lpips": 3, "feature_classifier": 4}


def make_generators(seed: int, indices: Iterable[int], stream: str = "prediction") -> list[torch.Generator]:
    """One CPU generator per image, seeded from `(seed, stream, index)`.

    Args:
        seed (`int`): the run's seed.
        indices (iterable of `int`): positions of the images in the evaluation set (or in the generated set).
        stream (`str`, defaults to `"prediction"`): one of `GENERATOR_STREAMS`, so the noise of different kinds of
            calls on the same image is independent.

    Returns:
        `list[torch.Generator]`, to pass as `generator=` to the pipeline (one per image of the batch).
    """
    if stream not in GENERATOR_STREAMS:
        raise ValueError(f"Unknown generator stream {stream!r}; choose from {list(GENERATOR_STREAMS)}.")
    generators = []
    for index in indices:
        state = np.random.SeedSequence([seed, GENERATOR_STREAMS[stream], int(index)]).generate_state(1, np.uint64)
        generators.append(torch.Generator().manual_seed(int(state[0])))
    return generators


@dataclass
class EvaluationBatch:
    """A checked batch of consecutive evaluation items, as the pipeline takes them."""

    start: int  # index of the first item in the evaluation set
    images: torch.Tensor  # [B, C, H, W] float32 in [0, 1]
    labels: torch.Tensor  # [B, H, W] or [B] int64


def reiterable(dataset):
    """`dataset` itself when it can be iterated again (a list, a `datasets.Dataset`), a list of a one-shot iterator's
    items otherwise; `None` stays `None`."""
    if dataset is None:
        return None
    if iter(dataset) is dataset:  # a one-shot iterator: the runner needs several passes
        return list(dataset)
    return dataset


def _item_range(start: int, count: int) -> str:
    return f"item {start}" if count == 1 else f"items {start}-{start + count - 1}"


def collate(items: list[dict], start: int, task: str) -> EvaluationBatch:
    """Stack and check items `start, start + 1, ...` (see the module docstring) into an `EvaluationBatch`.

    Raises:
        ValueError: naming the item(s) for a missing key, shapes that differ, images outside [-1, 1], non-integer
            labels, labels of the wrong rank for `task` (`"segmentation"` or `"classification"`), or masks whose size
            differs from the images'.
    """
    where = _item_range(start, len(items))
    images, labels = [], []
    for offset, item in enumerate(items):
        if not isinstance(item, dict) or "pixel_values" not in item or "labels" not in item:
            keys = list(item) if isinstance(item, dict) else type(item).__name__
            raise ValueError(f"Item {start + offset} must be a dict with 'pixel_values' and 'labels', got {keys}.")
        images.append(torch.as_tensor(item["pixel_values"], dtype=torch.float32))
        labels.append(torch.as_tensor(item["labels"]))
    try:
        images, labels = torch.stack(images), torch.stack(labels)
    except RuntimeError as error:
        raise ValueError(f"The shapes of {where} differ: {error}") from None
    if images.ndim != 4:
        raise ValueError(f"'pixel_values' must have shape [C, H, W], got {list(images.shape[1:])} ({where}).")
    low, high = float(images.min()), float(images.max())
    if low < -1.001 or high > 1.001:
        raise ValueError(f"'pixel_values' must lie in [-1, 1]; {where} span [{low}, {high}].")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"'labels' must be integer class ids, got dtype {labels.dtype} ({where}).")
    expected = 3 if task == "segmentation" else 1
    if labels.ndim != expected:
        shape = "[H, W] masks" if task == "segmentation" else "scalar class ids"
        raise ValueError(
            f"A {task} model needs {shape} as 'labels', got labels of shape {list(labels.shape[1:])} ({where})."
        )
    if task == "segmentation" and labels.shape[-2:] != images.shape[-2:]:
        raise ValueError(
            f"Masks are {tuple(labels.shape[-2:])} (HxW) but images {tuple(images.shape[-2:])} ({where})."
        )
    # The pipeline takes [0, 1] floats unambiguously; [-1, 1] tensors are recognised only by a negative value.
    return EvaluationBatch(start=start, images=((images + 1) / 2).clamp(0, 1), labels=labels.long())


def iter_batches(dataset, batch_size: int, task: str) -> Iterator[EvaluationBatch]:
    """One pass over `dataset` in checked batches of `batch_size` items (the last may be smaller)."""
    items, start = [], 0
    for item in dataset:
        items.append(item)
        if len(items) == batch_size:
            yield collate(items, start, task)
            start, items = start + len(items), []
    if items:
        yield collate(items, start, task)


def num_batches(dataset, batch_size: int) -> int | None:
    """How many batches `iter_batches` yields, or `None` for data without a length (for the progress bar)."""
    try:
        return math.ceil(len(dataset) / batch_size)
    except TypeError:
        return None


def iter_label_batches(
    dataset, count: int, batch_size: int, task: str
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """`(index in the generated set, labels, real images)` batches of the first `count` items, cycling through the
    set."""
    produced = 0
    while produced < count:
        passed = 0
        for batch in iter_batches(dataset, batch_size, task):
            passed += 1
            take = min(count - produced, batch.labels.shape[0])
            yield produced, batch.labels[:take], batch.images[:take]
            produced += take
            if produced >= count:
                return
        if not passed:
            raise ValueError("The evaluation set is empty.")
