# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Rules shared by every reader of user images and masks: the training data (`data.py`) and the pipeline's image
processor (`pipelines/image_processor_symmflow.py`) both call these, so a file means the same thing in training
and at inference.

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
        return codec.rgb_to_labels(np.asarray(mask.convert("RGB")))[0].cpu()
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
            f"{what} holds {bad} NaN or infinite value(s); images and masks must be finite (check the decoding or "
            "normalisation that produced them)."
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
