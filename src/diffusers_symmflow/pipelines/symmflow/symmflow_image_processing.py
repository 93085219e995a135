# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Turns the images, masks and class labels users pass to `SymmFlowPipeline` into tensors, and back.

Unlike diffusers' `VaeImageProcessor.preprocess`, nothing here resizes: SymmFlow reads a label per pixel, so an image
and its mask must keep the size the user gave, and a size the model cannot take is reported rather than silently
changed. Every check raises a `ValueError` naming the offending input before any model runs.

Conventions (diffusers'):

* images: `PIL.Image.Image` of any mode; `np.ndarray` `[H, W]`, `[H, W, C]` or `[B, H, W, C]`; `torch.Tensor`
  `[C, H, W]` or `[B, C, H, W]`, uint8 in [0, 255] or float in [0, 1]; or a list of these. PIL images and arrays are
  read by `inputs.read_image`, the rule training shares: scaled by the range their mode or dtype declares (8-bit
  modes and uint8 by 255, `"I;16"` / 16-bit PNG and uint16 by 65535, `"F"` and float arrays taken as [0, 1]; see
  `inputs` for mode `"I"`), colour converted to grayscale by luma and grayscale to RGB by repetition as the model
  needs. **Float tensors should be in [0, 1].** For diffusers compatibility (`VaeImageProcessor`'s rule) a float
  tensor holding any negative value is taken as already in [-1, 1] and used as is, with a `FutureWarning`, as
  diffusers does. The rule cannot see the range a tensor was meant to have: a [-1, 1] tensor that happens to hold no
  negative value (e.g. a bright image) is read as [0, 1]. Pass [0, 1] tensors (or uint8) to avoid the ambiguity.
  Arrays are never taken as [-1, 1]: a negative value in a float array raises. Tensors must have the model's channels.
* masks: read by `inputs.read_mask`, the rule training shares: class ids as integer arrays or tensors `[H, W]`,
  `[H, W, 1]`, `[B, H, W]` (tensors also `[B, 1, H, W]`), palette colours as integer arrays or tensors `[H, W, 3]` /
  `[B, H, W, 3]`, or PIL images: `"1"`, `"L"`, `"P"`, `"I"` and `"I;16"` images hold class ids (a `"P"` image's
  palette indices are the ids, the PASCAL VOC / ADE20K convention, whatever colours its palette shows), `"RGB"` and
  `"RGBA"` images hold palette colours; or a list of these.
* NaN / infinite pixel values and empty batches (no image or no mask) raise a `ValueError`.
"""

import warnings

import numpy as np
import PIL.Image
import torch
from diffusers.image_processor import VaeImageProcessor

from ...inputs import check_finite, describe_input, read_image, read_mask
from ...labels import LabelCodec


def _as_list(items) -> list:
    return list(items) if isinstance(items, (list, tuple)) else [items]


def _stack(items, convert, name: str, noun: str) -> torch.Tensor:
    """`convert(item, index)` of each of the user's `items` (one, or a list / tuple), joined along the batch axis.

    The rule both readers share: at least one item, all of one (H, W) size, and a non-empty batch in the end;
    `name` is the argument (`"image"`, `"mask"`) and `noun` what it holds, for the error messages.
    """
    items = _as_list(items)
    if len(items) == 0:
        raise ValueError(f"`{name}` is an empty list; pass at least one {noun}.")
    batches = [convert(item, index) for index, item in enumerate(items)]
    sizes = {tuple(batch.shape[-2:]) for batch in batches}
    if len(sizes) > 1:
        raise ValueError(f"All {noun}s of a batch must have the same size, got (H, W) sizes {sorted(sizes)}.")
    stacked = torch.cat(batches, dim=0)
    if stacked.shape[0] == 0:
        raise ValueError(f"`{name}` holds no {noun} (a batch of shape {tuple(stacked.shape)}); pass at least one.")
    return stacked


class SymmFlowImageProcessor(VaeImageProcessor):
    """`VaeImageProcessor` that also parses segmentation masks and class labels, and never resizes.

    `postprocess` (generated images to `"pil"` / `"np"` / `"pt"`) is `VaeImageProcessor`'s.
    """

    def __init__(self, vae_scale_factor: int = 1):
        super().__init__(vae_scale_factor=vae_scale_factor, do_resize=False, do_normalize=True)

    def preprocess_images(self, image, num_channels: int) -> torch.Tensor:
        """Stack the user's images into one float32 tensor `[B, num_channels, H, W]` in [-1, 1].

        Args:
            image: see the module docstring. PIL images and arrays are converted to the model's channels (an RGB
                photograph given to a grayscale model by the ITU-R 601-2 luma transform, PIL's; grayscale to RGB by
                repetition); tensors must already have `num_channels` channels.
            num_channels (`int`): image channels the model takes in pixel space.

        Raises:
            ValueError: unsupported types, channel counts, value ranges, or images of different sizes in one batch.
        """
        return _stack(image, lambda item, index: self._image_to_tensor(item, num_channels, index), "image", "image")

    def _image_to_tensor(self, item, num_channels: int, index: int) -> torch.Tensor:
        what = f"`image[{index}]`"
        if isinstance(item, torch.Tensor):
            tensor = item[None] if item.ndim == 3 else item
            if tensor.ndim != 4 or tensor.shape[1] != num_channels:
                raise ValueError(
                    f"{what} is {describe_input(item)}; the model takes {num_channels}-channel images as "
                    f"tensors of shape [{num_channels}, H, W] or [B, {num_channels}, H, W]."
                )
            return self._to_signed_range(tensor.detach().cpu(), index)
        if not isinstance(item, (PIL.Image.Image, np.ndarray)):
            raise ValueError(f"{what} is {describe_input(item)}; pass PIL images, numpy arrays or torch tensors.")
        # PIL images and arrays [H, W(, C)] follow the package's one reading rule (`inputs.read_image`), the one
        # training uses; a 4-d array is a batch of such images.
        images = list(item) if isinstance(item, np.ndarray) and item.ndim == 4 else [item]
        arrays = [read_image(image, num_channels, what) for image in images]
        if len({array.shape for array in arrays}) > 1:
            raise ValueError(f"{what} holds images of different sizes.")
        array = np.stack(arrays) if arrays else np.zeros((0, *item.shape[1:3], num_channels), dtype=np.float32)
        return self.normalize(torch.from_numpy(array).permute(0, 3, 1, 2))

    def _to_signed_range(self, tensor: torch.Tensor, index: int) -> torch.Tensor:
        """A tensor, uint8 [0, 255] or float [0, 1] (or [-1, 1], diffusers' rule), to float32 [-1, 1]."""
        check_finite(tensor, f"`image[{index}]`")
        if tensor.dtype == torch.uint8:
            return self.normalize(tensor.float() / 255.0)
        if not torch.is_floating_point(tensor):
            raise ValueError(
                f"`image[{index}]` has dtype {tensor.dtype}; pass uint8 images in [0, 255] or float images in [0, 1]."
            )
        tensor = tensor.float()
        if tensor.numel() == 0:
            return tensor  # an empty batch, reported by the caller
        low, high = tensor.min().item(), tensor.max().item()
        if low < -1.0 or high > 1.0:
            raise ValueError(
                f"`image[{index}]` has values in [{low:.3g}, {high:.3g}]; float images must lie in [0, 1] (or in "
                "[-1, 1])."
            )
        if low < 0.0:
            # VaeImageProcessor's rule (and its warning): a tensor with a negative value is already in [-1, 1].
            warnings.warn(
                f"`image[{index}]` is a float tensor with negative values, taken as already in [-1, 1] (diffusers' "
                "rule). Pass tensors in [0, 1]: a [-1, 1] tensor without a negative value would be read as [0, 1].",
                FutureWarning,
                stacklevel=4,
            )
            return tensor
        return self.normalize(tensor)

    def preprocess_masks(self, mask, codec: LabelCodec) -> torch.Tensor:
        """Class ids `[B, H, W]` (int64) from the user's masks (see the module docstring for the formats).

        Colours are mapped to classes with `codec.rgb_to_labels`, which raises a `ValueError` naming the colours that
        are not in the palette and how many pixels carry them; ids are checked with `codec.check_labels`.
        """
        ids = _stack(mask, lambda item, index: self._mask_to_ids(item, codec, index), "mask", "mask")
        codec.check_labels(ids)
        return ids

    def _mask_to_ids(self, item, codec: LabelCodec, index: int) -> torch.Tensor:
        if not isinstance(item, (PIL.Image.Image, np.ndarray, torch.Tensor)):
            raise ValueError(
                f"`mask[{index}]` is {describe_input(item)}; pass PIL images, numpy arrays or torch tensors."
            )
        return read_mask(item, codec, f"`mask[{index}]`")

    @staticmethod
    def preprocess_class_labels(class_labels, codec: LabelCodec) -> torch.Tensor:
        """Class ids `[B]` (int64) from an int, a sequence of ints, or a 0-d / 1-d integer array or tensor.

        A model with `class_names` also takes names (a `str` or a sequence of them, e.g. `["cat", "dog"]`); a name
        it does not know, or a string given to a model without names, raises a `ValueError` (a digit string such as
        `"3"` is a name, not the id 3).
        """
        if isinstance(class_labels, torch.Tensor):
            labels = class_labels.detach().cpu()
        else:
            items = [class_labels] if isinstance(class_labels, str) else class_labels
            if isinstance(items, (list, tuple, np.ndarray)) and any(isinstance(i, (str, np.str_)) for i in items):
                items = SymmFlowImageProcessor._names_to_ids(list(items), codec)
            try:
                labels = torch.as_tensor(np.asarray(items))
            except (TypeError, ValueError, RuntimeError) as error:
                raise ValueError(
                    f"`class_labels` must be an int or a 1-d sequence of ints, got {class_labels!r}: {error}"
                ) from None
        if torch.is_floating_point(labels) or labels.dtype == torch.bool or labels.ndim > 1:
            raise ValueError(
                f"`class_labels` must be an int or a 1-d sequence of ints, got {class_labels!r} "
                f"(dtype {labels.dtype}, shape {tuple(labels.shape)})."
            )
        labels = labels.reshape(-1).long()
        if labels.numel() == 0:
            raise ValueError("`class_labels` is empty; pass at least one class id.")
        codec.check_labels(labels)
        return labels

    @staticmethod
    def _names_to_ids(items: list, codec: LabelCodec) -> list[int]:
        names = codec.config.class_names
        if names is None:
            raise ValueError(
                f"`class_labels` holds strings ({items!r}) but this model has no `class_names`; pass class ids, "
                f"integers in [0, {codec.num_classes})."
            )
        index = {name: i for i, name in enumerate(names)}
        unknown = [item for item in items if not isinstance(item, (str, np.str_)) or str(item) not in index]
        if unknown:
            raise ValueError(
                f"`class_labels` {unknown!r} are not class names of this model (mix no ids with names); its classes are "
                f"{list(names)}."
            )
        return [index[str(item)] for item in items]

    def postprocess_masks(
        self, labels: torch.Tensor, codec: LabelCodec, output_type: str = "np"
    ) -> tuple[np.ndarray | torch.Tensor | list[PIL.Image.Image], np.ndarray | torch.Tensor | list[PIL.Image.Image]]:
        """Class ids `[B, H, W]` to `(masks, colored_masks)` in `output_type`.

        Returns:
            `"np"`: int64 `[B, H, W]` and uint8 `[B, H, W, 3]`; `"pt"`: int64 `[B, H, W]` and uint8 `[B, 3, H, W]`;
            `"pil"`: lists of `"P"` images whose pixel values are the class ids and whose palette is the codec's
            (mode `"I"` when an id exceeds 255), and of `"RGB"` images.
        """
        labels = labels.detach().cpu().long()
        colored = np.asarray(codec.colorize(labels.numpy()), dtype=np.uint8)
        if output_type == "pt":
            return labels, torch.from_numpy(colored).permute(0, 3, 1, 2).contiguous()
        if output_type == "np":
            return labels.numpy(), colored
        ids = labels.numpy()
        if ids.size and (ids.min() < 0 or ids.max() > 255):
            masks = [PIL.Image.fromarray(mask.astype(np.int32), mode="I") for mask in ids]
        else:
            palette = self._pil_palette(codec)
            masks = []
            for mask in ids:
                image = PIL.Image.fromarray(mask.astype(np.uint8))
                image.putpalette(palette)  # turns the "L" image into a "P" image, pixel values unchanged
                masks.append(image)
        return masks, [PIL.Image.fromarray(rgb) for rgb in colored]

    @staticmethod
    def _pil_palette(codec: LabelCodec) -> list[int]:
        """A 256-entry PIL palette: class `k`'s colour at entry `k`, the unlabelled colour at `ignore_index`."""
        colours = np.zeros((256, 3), dtype=np.uint8)
        palette = np.asarray(codec.palette_array, dtype=np.uint8)
        num_classes = min(codec.num_classes, 256)
        colours[:num_classes] = palette[:num_classes]
        if codec.has_ignore_code and 0 <= codec.ignore_index < 256:
            colours[codec.ignore_index] = palette[codec.num_classes]
        return colours.reshape(-1).tolist()
