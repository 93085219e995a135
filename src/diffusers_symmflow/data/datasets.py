# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Map-style and streaming datasets of decoded examples, the batch collation and `SymmFlowData`."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..labels import LabelCodec
from .transforms import (
    SymmFlowExampleTransform,
    _augmentation_generator,
    _column_error,
    _example_error,
)


logger = logging.getLogger(__name__)

# How many recent stream positions a streaming dataset remembers the state of (see `state_after`).
_STREAM_STATE_HISTORY = 4096


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
                logger.warning(f"Skipping a bad example (`skip_bad_examples`). {bad}")
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

    def __init__(self, examples, transform: SymmFlowExampleTransform, seed: int = 0, skip_bad_examples: bool = False):
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
                logger.warning(f"Skipping a bad example (`skip_bad_examples`). {bad}")
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
        num_train_examples (`int` or `None`): the training split's size (`None` when streaming).
        num_validation_examples (`int` or `None`): the validation split's size (`None` when streaming).
        background_class (`int` or `None`): segmentation: the class id of "no object" (see `background_class`).
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
