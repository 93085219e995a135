# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Decoding one dataset example into the tensors SymmFlow trains on: readers, resizing, crops and flips."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..inputs import MaskColorError, describe_input, read_image, read_mask
from ..labels import LabelCodec


# ----------------------------------------------------------------------------------------------------------------
# Example decoding
# ----------------------------------------------------------------------------------------------------------------


class DataExampleError(ValueError):
    """A dataset example that cannot be decoded: the message names its index (when known) and its column.

    Attributes:
        index (`int` or `None`): the example's index in the dataset (map-style) or its 1-based position in the
            current pass of the stream (streaming).
        column (`str` or `None`): the column that failed to decode.
    """

    def __init__(self, message: str, index: int | None = None, column: str | None = None):
        # torch's DataLoader re-raises a worker's exception as `type(error)(text)`, the text holding the worker's
        # traceback: keep only the original message and read the index and column back from it.
        marker = f"{type(self).__name__}: "
        if message.startswith("Caught ") and marker in message:
            message = message[message.rindex(marker) + len(marker) :].strip()
            found = re.match(r"(?:Row|Streamed example|\w+ example) (\d+)", message)
            index = int(found.group(1)) if found else None
            found = re.search(r"Column '([^']+)'", message)
            column = found.group(1) if found else None
        super().__init__(message)
        self.index = index
        self.column = column


def _column_error(column: str, error: Exception) -> DataExampleError:
    """Wrap any decoding failure of `column` (bad ids, corrupt image bytes, wrong shapes) so it names the column."""
    if isinstance(error, DataExampleError):
        return error
    text = str(error)
    named = f"column {column!r}" in text.lower()
    prefix = "" if named else f"Column {column!r}: "
    # A non-ValueError (e.g. PIL's UnidentifiedImageError for corrupt bytes) keeps its type's name in the message.
    kind = "" if isinstance(error, ValueError) else f"{type(error).__name__}: "
    return DataExampleError(f"{prefix}{kind}{text}", column=column)


def _example_error(error: Exception, index: int, where: str) -> DataExampleError:
    """`error` (from `_column_error`) with where the example is (`where`, naming `index`) in front."""
    column = getattr(error, "column", None)
    return DataExampleError(f"{where}: {error}", index=index, column=column)


def _as_array(value: Any, column: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Column {column!r} holds {describe_input(value)}, which is not an image or array: {error}"
        ) from None


def image_to_tensor(value: Any, num_channels: int, column: str = "image") -> torch.Tensor:
    """One image to float32 `[num_channels, H, W]` in [0, 1], by the package's one reading rule (`inputs.read_image`,
    which the pipeline's image processor uses too).

    Args:
        value: a PIL image of any mode, scaled by its mode's range (`"L"` / `"RGB"` by 255, `"I;16"` by 65535, `"F"`
            taken as [0, 1]); or an array `[H, W]` / `[H, W, C]` (C in 1, 3, 4; a torch tensor in this layout, as
            `datasets`' torch format gives) of uint8, uint16, another integer dtype in [0, 255], or float in [0, 1].
            RGB(A) becomes grayscale by the ITU-R 601-2 luma transform (PIL's), grayscale becomes RGB by repetition,
            alpha is dropped.
        num_channels: 1 or 3.
        column: named in error messages.
    """
    array = read_image(value, num_channels, f"The image in column {column!r}")
    return torch.from_numpy(array).permute(2, 0, 1)


def _palette_error(error: ValueError) -> ValueError:
    return ValueError(
        f"{error} Pass the dataset's colours with `palette` (a name or a JSON file of [r, g, b]), or class-id masks."
    )


def mask_to_ids(value: Any, codec: LabelCodec, column: str = "mask") -> torch.Tensor:
    """One segmentation mask to int64 class ids `[H, W]`, checked against `codec` (ids in [0, K) or ignore_index).

    Args:
        value: read by `inputs.read_mask`, the rule the pipeline shares: class ids (`"L"`, `"I"`, `"I;16"`, `"1"` or
            `"P"` PIL images, the pixel values or palette indices being the ids; integer arrays `[H, W]`,
            `[H, W, 1]` or `[1, H, W]`) or palette colours (`"RGB"` / `"RGBA"` PIL images or `[H, W, 3]` integer
            arrays, mapped with `codec.rgb_to_labels`).
        codec: holds the palette, `num_classes` and `ignore_index`.
        column: named in error messages.
    """
    try:
        ids = read_mask(value, codec, f"The mask in column {column!r}")
    except MaskColorError as error:
        raise _palette_error(error) from None
    if ids.shape[0] != 1:
        raise ValueError(
            f"Column {column!r} holds {describe_input(value)}, read as {ids.shape[0]} masks; an example holds one "
            "mask, class ids [H, W] or palette colours [H, W, 3]."
        )
    try:
        return codec.check_labels(ids)[0]
    except ValueError as error:
        raise ValueError(f"Column {column!r}: {error} Check `num_classes` and `ignore_index`.") from None


def class_to_id(value: Any, codec: LabelCodec, column: str = "label") -> torch.Tensor:
    """One classification label to an int64 scalar, checked against `codec`."""
    array = _as_array(value, column)
    if array.size != 1:
        raise ValueError(
            f"Column {column!r} holds {describe_input(value)}; classification labels are single class ids. For masks, "
            "use `task` segmentation and `mask_column`."
        )
    try:
        return codec.check_labels(array.reshape(1))[0]
    except ValueError as error:
        raise ValueError(f"Column {column!r}: {error} Check `num_classes`.") from None


def _resize(tensor: torch.Tensor, size: tuple[int, int], nearest: bool) -> torch.Tensor:
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor
    if nearest:
        # Class ids survive a float round trip exactly below 2**24.
        resized = F.interpolate(tensor[None, None].float(), size=size, mode="nearest-exact")
        return resized[0, 0].round().long()
    return F.interpolate(tensor[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]


class SymmFlowExampleTransform:
    """Turns one raw dataset example into `{"pixel_values", "labels"}` at a square `resolution`.

    The shorter side is resized to `resolution` (masks with nearest-neighbour sampling), then a square is cropped
    (centred, or at a random offset when `train` and not `center_crop`), then image and mask are flipped together
    with probability 1/2 when `train` and `random_flip`.

    Args:
        image_column (`str`): the example's key of the image.
        label_column (`str`): the example's key of the mask / class id.
        codec (`LabelCodec`): decodes and checks labels (palette, `num_classes`, `ignore_index`).
        resolution (`int`): output side.
        image_channels (`int`): 1 (grayscale) or 3 (RGB).
        train (`bool`): whether random augmentation applies.
        center_crop (`bool`): crop the centre square after resizing (else a random crop when training).
        random_flip (`bool`): flip horizontally at random when training.
    """

    def __init__(
        self,
        image_column: str,
        label_column: str,
        codec: LabelCodec,
        resolution: int,
        image_channels: int,
        train: bool,
        center_crop: bool = False,
        random_flip: bool = False,
    ):
        self.image_column = image_column
        self.label_column = label_column
        self.codec = codec
        self.resolution = resolution
        self.image_channels = image_channels
        self.train = train
        self.center_crop = center_crop
        self.random_flip = random_flip

    @property
    def is_random(self) -> bool:
        """Whether the output depends on the generator passed to `__call__`."""
        return self.train and (self.random_flip or not self.center_crop)

    def __call__(self, example: dict, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        for column in (self.image_column, self.label_column):
            if column not in example:
                raise ValueError(f"The example has no column {column!r}; its columns are {sorted(example)}.")
        try:
            image = image_to_tensor(example[self.image_column], self.image_channels, self.image_column)
        except Exception as error:
            raise _column_error(self.image_column, error) from error
        segmentation = self.codec.config.task == "segmentation"
        try:
            if segmentation:
                labels = mask_to_ids(example[self.label_column], self.codec, self.label_column)
                if tuple(labels.shape) != tuple(image.shape[-2:]):
                    raise ValueError(
                        f"A mask in column {self.label_column!r} is {tuple(labels.shape)} (HxW) but its image is "
                        f"{tuple(image.shape[-2:])}; masks must match their images pixel for pixel."
                    )
            else:
                labels = class_to_id(example[self.label_column], self.codec, self.label_column)
        except Exception as error:
            raise _column_error(self.label_column, error) from error

        height, width = image.shape[-2:]
        scale = self.resolution / min(height, width)
        size = (max(self.resolution, round(height * scale)), max(self.resolution, round(width * scale)))
        image = _resize(image, size, nearest=False)
        if segmentation:
            labels = _resize(labels, size, nearest=True)

        random = self.train and generator is not None
        if self.train and not self.center_crop and random:
            top = int(torch.randint(0, size[0] - self.resolution + 1, (1,), generator=generator))
            left = int(torch.randint(0, size[1] - self.resolution + 1, (1,), generator=generator))
        else:
            top, left = (size[0] - self.resolution) // 2, (size[1] - self.resolution) // 2
        window = (slice(top, top + self.resolution), slice(left, left + self.resolution))
        image = image[:, window[0], window[1]]
        if segmentation:
            labels = labels[window[0], window[1]]
        if self.train and self.random_flip and random and bool(torch.rand(1, generator=generator) < 0.5):
            image = image.flip(-1)
            if segmentation:
                labels = labels.flip(-1)

        pixel_values = (image * 2.0 - 1.0).clamp(-1.0, 1.0).to(torch.float32).contiguous()
        return {"pixel_values": pixel_values, "labels": labels.long().contiguous()}


def _augmentation_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    # A fixed mixing of (seed, epoch, index): augmentation is a pure function of them, not of worker RNG state.
    mixed = ((seed * 1_000_003 + epoch) * 2_654_435_761 + index) % (2**63 - 1)
    return torch.Generator().manual_seed(mixed)
