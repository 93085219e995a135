# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The one reader of user images and masks: the training data (`data/`) and the pipeline's image processor
(`pipelines/symmflow/symmflow_image_processing.py`) both read every image with `read_image` and every mask with
`read_mask`, so a file or an array means the same thing in training and at inference.

* Images are scaled by the range their type declares: 8-bit PIL modes and uint8 arrays by 255, 16-bit PIL modes
  (`"I;16"`, how 16-bit PNGs open) and uint16 arrays by 65535, `"F"` images and float arrays are taken as [0, 1]
  (checked). A PIL `"I"` image (32-bit integers) declares no range: values in (255, 65535] are read as 16-bit, and
  an image whose values all lie in [0, 255] is refused as ambiguous (8 or 16 bits?), as are values outside
  [0, 65535]. Other integer arrays must lie in [0, 255] (8-bit values in a wider dtype, e.g. decoded from lists).
* Channels follow the model: colour becomes grayscale by the ITU-R 601-2 luma transform (PIL's), grayscale becomes
  RGB by repetition, alpha is dropped.
* Masks hold class ids (`[H, W]`, `[H, W, 1]`, batches `[B, H, W]` / `[B, H, W, 1]`, tensors also `[B, 1, H, W]`)
  or palette colours (`[H, W, 3]` / `[B, H, W, 3]`), in any integer dtype (floats when they hold integers). A last
  axis of 1 or 3 decides: a batch of masks 1 or 3 pixels wide must be given as a list.
* A PIL mask in mode `"1"`, `"L"`, `"P"`, `"I"` or `"I;16"` holds class ids: its pixel values (for `"P"`, the palette
  indices) are the ids, the PASCAL VOC / ADE20K convention. A `"P"` image's own palette is only how it displays.
* A PIL mask in mode `"RGB"` or `"RGBA"` holds palette colours, mapped to ids with `LabelCodec.rgb_to_labels` (exact
  colour matches only; alpha is dropped).
* Pixel values must be finite: one NaN passes a min / max range check silently (every comparison with NaN is
  false) and turns every prediction into class 0, so NaN and infinity are rejected by name.
* Counts (steps, batch sizes, numbers of classes...) are integers, not floats or booleans, checked by
  `check_positive_int` everywhere in the package and its scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import PIL.Image
import torch


if TYPE_CHECKING:  # labels.py (through palettes.py) imports this module: no runtime import back
    from .labels import LabelCodec


MASK_ID_MODES = ("1", "L", "P", "I", "I;16")
"""PIL modes whose pixel values are class ids."""
MASK_COLOR_MODES = ("RGB", "RGBA")
"""PIL modes whose pixels are palette colours."""
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
"""PIL modes of 16-bit unsigned pixels (16-bit grayscale PNG / TIFF), scaled by 65535."""
_PIL_MODE_FOR_CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, the weights of PIL's convert("L")


class MaskColorError(ValueError):
    """A colour mask holds colours that are not in the palette (callers may add how to pass the right palette)."""


def describe_input(value: Any) -> str:
    """How error messages name what the user passed: its type, and its mode and size or shape and dtype."""
    if isinstance(value, PIL.Image.Image):
        return f"a PIL image (mode {value.mode!r}, size {value.size})"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    return f"a value of type {type(value).__name__}"


def _as_numpy(value: Any, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} is {describe_input(value)}, which is not an image or array: {error}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{what} is {describe_input(value)}, which is not an image or array of numbers.")
    return array


def _pil_to_unit(image: PIL.Image.Image, num_channels: int, what: str) -> np.ndarray:
    """A PIL image to float32 `[H, W, C]` in [0, 1], scaled by its mode's range."""
    if image.mode in SIXTEEN_BIT_MODES:
        return (np.asarray(image).astype(np.float32) / 65535.0)[..., None]
    if image.mode == "I":
        values = np.asarray(image)
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if low < 0 or high > 65535 or high <= 255:
            raise ValueError(
                f"{what} is {describe_input(image)} with values in [{low}, {high}]; a mode 'I' image does not say its "
                "range, and only values in (255, 65535] read unambiguously (as 16 bits). Convert 8-bit images to "
                "mode 'L', or pass a uint8 / uint16 array, or a float array in [0, 1]."
            )
        return (values.astype(np.float32) / 65535.0)[..., None]
    if image.mode == "F":
        return _float_to_unit(np.asarray(image, dtype=np.float32), what)[..., None]
    mode = _PIL_MODE_FOR_CHANNELS.get(num_channels)
    if mode is None:
        raise ValueError(
            f"The model takes {num_channels}-channel images, which PIL cannot hold; pass {what} as an array or tensor."
        )
    array = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
    return array[..., None] if array.ndim == 2 else array


def _float_to_unit(array: np.ndarray, what: str) -> np.ndarray:
    check_finite(array, what)
    array = array.astype(np.float32)
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(
            f"{what} holds float values in [{array.min():.3g}, {array.max():.3g}]; float images must lie in [0, 1] "
            "(or pass uint8 in [0, 255] or uint16 in [0, 65535])."
        )
    return array


def _array_to_unit(array: np.ndarray, what: str) -> np.ndarray:
    """Pixels of any dtype to float32 in [0, 1], scaled by the range the dtype declares."""
    if array.dtype == bool:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        return _float_to_unit(array, what)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what} has dtype {array.dtype}; pass integer or float pixels.")
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    if array.dtype != np.uint8 and array.size and (array.min() < 0 or array.max() > 255):
        raise ValueError(
            f"{what} holds {array.dtype} values in [{array.min()}, {array.max()}], which declare no range; pass uint8 "
            "in [0, 255], uint16 in [0, 65535] or float in [0, 1]."
        )
    return array.astype(np.float32) / 255.0


def _match_channels(array: np.ndarray, num_channels: int, what: str, value: Any) -> np.ndarray:
    channels = array.shape[-1]
    if channels == num_channels:
        return array
    if num_channels == 1 and channels in (3, 4):
        return (array[..., :3] @ _LUMA)[..., None]
    if num_channels == 3 and channels == 1:
        return np.repeat(array, 3, axis=-1)
    if num_channels == 3 and channels == 4:
        return array[..., :3]
    raise ValueError(
        f"{what} is {describe_input(value)}; the model takes {num_channels}-channel images, from arrays [H, W] or "
        "[H, W, C] with C in (1, 3, 4) (colour to grayscale by luma, grayscale to RGB by repetition, alpha dropped)."
    )


def read_image(value: Any, num_channels: int, what: str = "the image") -> np.ndarray:
    """One image to float32 `[H, W, num_channels]` in [0, 1], by the module's rule.

    Args:
        value: a PIL image of any mode (scaled by its mode's range); or an array `[H, W]` / `[H, W, C]` with C in
            (1, 3, 4) (a numpy array, a torch tensor in the same layout, or nested lists): bool, uint8 in [0, 255],
            uint16 in [0, 65535], another integer dtype in [0, 255], or float in [0, 1].
        num_channels (`int`): the model's image channels.
        what (`str`): how error messages name the image (e.g. `` "`image[0]`" ``, `"The image in column 'image'"`).

    Returns:
        `np.ndarray`, float32 `[H, W, num_channels]` in [0, 1].

    Raises:
        ValueError: for NaN / infinity, values outside the declared range, an ambiguous `"I"` image, or shapes and
            channel counts that do not convert.
    """
    if isinstance(value, PIL.Image.Image):
        array = _pil_to_unit(value, num_channels, what)
    else:
        array = _as_numpy(value, what)
        array = array[..., None] if array.ndim == 2 else array
        if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"{what} is {describe_input(value)}; images are PIL images or arrays [H, W] / [H, W, C] with C in "
                "(1, 3, 4)."
            )
        array = _array_to_unit(array, what)
    return np.ascontiguousarray(_match_channels(array, num_channels, what, value))


def read_mask(value: Any, codec: LabelCodec, what: str = "the mask") -> torch.Tensor:
    """One mask or a batch of masks to int64 class ids `[B, H, W]`, by the module's rule.

    Args:
        value: a PIL image (`pil_mask_to_ids`); or a numpy array, a torch tensor or nested lists: class ids `[H, W]`,
            `[H, W, 1]`, `[B, H, W]`, `[B, H, W, 1]` (tensors also `[B, 1, H, W]`), or palette colours `[H, W, 3]` /
            `[B, H, W, 3]`, any integer dtype (floats when they hold integers). A last axis of 1 or 3 decides, so a
            batch of masks 1 or 3 pixels wide must be given as a list.
        codec (`LabelCodec`): its palette maps colours to ids.
        what (`str`): how error messages name the mask.

    Returns:
        `torch.Tensor`, int64 `[B, H, W]` on the CPU. Ids are not range-checked here (callers check them with
        `codec.check_labels`, with their own context in the message).

    Raises:
        MaskColorError: colours missing from the palette.
        ValueError: NaN / infinity, non-numeric values, or another shape.
    """
    if isinstance(value, PIL.Image.Image):
        try:
            return pil_mask_to_ids(value, codec, what)[None]
        except MaskColorError as error:
            raise MaskColorError(f"{what} holds colours that are not in the palette: {error}") from None
    array = _as_numpy(value, what)
    check_finite(array, what)
    if isinstance(value, torch.Tensor) and array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]  # diffusers' [B, 1, H, W] layout
    if array.ndim in (3, 4) and array.shape[-1] == 3:
        colours = array
        try:
            return codec.rgb_to_labels(colours if colours.ndim == 4 else colours[None]).cpu()
        except ValueError as error:
            raise MaskColorError(f"{what} holds colours that are not in the palette: {error}") from None
    if array.ndim in (3, 4) and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ValueError(
            f"{what} is {describe_input(value)}; pass class ids [H, W], [H, W, 1] or [B, H, W] (tensors also "
            "[B, 1, H, W]), or palette colours [H, W, 3] or [B, H, W, 3]."
        )
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.round(array)):
        raise ValueError(f"{what} holds non-integer values; masks hold class ids (integers) or palette colours.")
    return torch.from_numpy(array.astype(np.int64))


def pil_mask_to_ids(mask: PIL.Image.Image, codec: LabelCodec, what: str = "the mask") -> torch.Tensor:
    """Class ids of one PIL mask, by the module's rule (ids in `MASK_ID_MODES`, colours in `MASK_COLOR_MODES`).

    Args:
        mask (`PIL.Image.Image`): the mask.
        codec (`LabelCodec`): holds the palette colours are read with.
        what (`str`): how error messages name the mask (e.g. `"mask[0]"`, `"column 'mask'"`).

    Returns:
        `torch.Tensor`, int64 `[H, W]`. Ids are not range-checked here (callers check them against the codec with
        their own context in the message); unknown colours raise.

    Raises:
        ValueError: for another PIL mode, or colours missing from the palette.
    """
    if mask.mode in MASK_ID_MODES:
        return torch.from_numpy(np.asarray(mask).astype(np.int64))
    if mask.mode in MASK_COLOR_MODES:
        try:
            return codec.rgb_to_labels(np.asarray(mask.convert("RGB")))[0].cpu()
        except ValueError as error:
            raise MaskColorError(str(error)) from None
    raise ValueError(
        f"{what} is a PIL image in mode {mask.mode!r}; pass class ids as a {'/'.join(MASK_ID_MODES)} image (for 'P', "
        f"the palette indices are the ids) or palette colours as an {'/'.join(MASK_COLOR_MODES)} image."
    )


def check_finite(values: Any, what: str) -> None:
    """Raise a `ValueError` naming `what` if `values` (a numpy array or a tensor) holds NaN or infinity.

    Integer and boolean inputs are always finite and pass without a scan.
    """
    if isinstance(values, torch.Tensor):
        if not (torch.is_floating_point(values) or torch.is_complex(values)):
            return
        bad = int((~torch.isfinite(values)).sum())
    else:
        array = np.asarray(values)
        if not np.issubdtype(array.dtype, np.inexact):
            return
        bad = int((~np.isfinite(array)).sum())
    if bad:
        raise ValueError(
            f"{what} holds {bad} NaN or infinite value(s); images, masks and latents must be finite (check the "
            "decoding or normalisation that produced them)."
        )


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Raise a `ValueError` naming `name` unless `value` is an integer `>= minimum`; return it as an `int`.

    `True` / `False` are refused although Python counts them as integers, and so are floats (even `2.0`), since a
    float count is almost always a mistaken argument.

    Args:
        name (`str`): the argument as the user wrote it: a keyword (shown as `` `name` ``) or a command-line flag
            starting with `--` (shown as is).
        value: the value to check; Python and numpy integers pass.
        minimum (`int`, defaults to 1): the smallest allowed value (e.g. 2 for a number of classes).

    Returns:
        `int(value)`.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        shown = name if name.startswith("--") else f"`{name}`"
        need = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{shown} must be {need}, got {value!r}.")
    return int(value)
