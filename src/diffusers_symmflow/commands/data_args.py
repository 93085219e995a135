# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The dataset flags shared by the scripts: `add_data_arguments` adds them to a parser, `data_config_from_args` turns
the parsed flags into the `SymmFlowDataConfig` (one field per flag, same names) that `load_symmflow_data` loads.

This is a scripts' module, not a library one (see `diffusers_symmflow.commands`): the example scripts and the
benchmarks build their parsers with it and convert the parsed flags once, at their boundary; every library function
takes the typed `SymmFlowDataConfig`. Imported from the installed package, so no script edits `sys.path`:

    from diffusers_symmflow.commands.data_args import add_data_arguments, data_config_from_args
"""

import argparse
import dataclasses
import re

from diffusers_symmflow.data import (
    DEFAULT_VALIDATION_FRACTION,
    IMAGE_COLUMN_CANDIDATES,
    LABEL_COLUMN_CANDIDATES,
    MASK_COLUMN_CANDIDATES,
    TASKS,
    SymmFlowDataConfig,
)


def _validation_split(value: str) -> float:
    number = float(value)
    if number <= 0 or (number >= 1 and number != int(number)):
        raise argparse.ArgumentTypeError(
            f"--validation_split must be a fraction in (0, 1) or a whole number of examples, got {value!r}."
        )
    return number


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the dataset flags shared by the training and evaluation scripts to `parser` (no `--seed`).

    With none of `--dataset_name` / `--train_data_dir` the bundled MNIST digits are used (see the module docstring).
    """
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset_name",
        type=str,
        default=None,
        help=(
            "A dataset on the Hub, a directory written by `datasets`' save_to_disk, parquet file(s) (a file, a "
            "comma-separated list or a directory) or any directory `datasets.load_dataset` reads. Default: the "
            "bundled MNIST digits (offline)."
        ),
    )
    group.add_argument(
        "--dataset_config_name", type=str, default=None, help="The dataset's config, if it has several."
    )
    group.add_argument(
        "--train_data_dir",
        type=str,
        default=None,
        help=(
            "A local folder with the data (same forms as a local --dataset_name); with --dataset_name, passed to "
            "`load_dataset` as `data_dir`."
        ),
    )
    group.add_argument(
        "--image_column",
        type=str,
        default=None,
        help=f"Column of the images. Default: the first of {list(IMAGE_COLUMN_CANDIDATES)} present.",
    )
    group.add_argument(
        "--mask_column",
        type=str,
        default=None,
        help=f"Segmentation: column of the masks. Default: the first of {list(MASK_COLUMN_CANDIDATES)} present.",
    )
    group.add_argument(
        "--label_column",
        type=str,
        default=None,
        help=(
            f"Classification: column of the class ids. Default: the first of {list(LABEL_COLUMN_CANDIDATES)} present."
        ),
    )
    group.add_argument(
        "--streaming",
        action="store_true",
        help="Stream the dataset (`datasets` streaming) instead of loading it; needs --max_train_steps.",
    )
    group.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="Side of the square training images. Default: 32 for the bundled MNIST digits, else the "
        "shorter side of the first training image.",
    )
    group.add_argument(
        "--center_crop",
        action="store_true",
        help="Crop training images at the centre (validation images always are) instead of randomly.",
    )
    group.add_argument(
        "--skip_bad_examples",
        action="store_true",
        help=(
            "Skip training examples that fail to decode (each logged with its row and column, and counted in the "
            "training log) instead of stopping training with a checkpoint. The first few examples are still checked "
            "before training starts."
        ),
    )
    group.add_argument(
        "--random_flip",
        action="store_true",
        help="Flip training images horizontally at random, together with their masks.",
    )
    group.add_argument(
        "--task",
        type=str,
        default="segmentation",
        choices=TASKS,
        help="Pixel-level labels (segmentation) or one label per image (classification).",
    )
    group.add_argument(
        "--num_classes",
        type=int,
        default=None,
        help="Number of classes K. Default: from the bundled data, --class_names, a ClassLabel column "
        "or the 'celebamask-hq' palette.",
    )
    group.add_argument(
        "--palette",
        type=str,
        default=None,
        help="Mask colours: 'celebamask-hq', 'generated' or a JSON file of [r, g, b] lists. Needed "
        "to read RGB masks; also colours the predicted masks. Default: generated.",
    )
    group.add_argument(
        "--ignore_index",
        type=int,
        default=None,
        help="Label id that metrics ignore (e.g. 255 for unlabelled pixels, or 0 for CelebAMask-HQ's background).",
    )
    group.add_argument(
        "--background_class",
        type=int,
        default=None,
        help="Segmentation: the class id of 'no object'. The saved pipeline then also classifies "
        "single-object images (the object class covering the most pixels). Default: 10 for the "
        "bundled digits, none otherwise.",
    )
    group.add_argument(
        "--class_names", type=str, default=None, help="Class names: comma-separated, or a JSON file holding a list."
    )
    group.add_argument(
        "--max_train_samples",
        type=int,
        default=None,
        help="Use only this many training examples (for debugging or quick runs).",
    )
    group.add_argument("--max_eval_samples", type=int, default=None, help="Use only this many validation examples.")
    group.add_argument(
        "--validation_split",
        type=_validation_split,
        default=None,
        help=(
            "For data without a validation split: the fraction (< 1) or number (>= 1) of training examples held "
            f"out, by a seeded permutation. Default: {DEFAULT_VALIDATION_FRACTION} (a number is required when "
            "streaming)."
        ),
    )


def data_config_from_args(args: argparse.Namespace) -> SymmFlowDataConfig:
    """The `SymmFlowDataConfig` of flags parsed with `add_data_arguments` (a `--seed` flag, when the script has one,
    seeds the augmentation)."""
    names = [field.name for field in dataclasses.fields(SymmFlowDataConfig)]
    return SymmFlowDataConfig(**{name: getattr(args, name) for name in names if hasattr(args, name)})


def as_flag_error(error: Exception, args: argparse.Namespace) -> Exception:
    """`error` with the library's argument names (written `` `name` ``) turned into this script's flags (`--name`),
    for every name the parsed `args` hold; returned to be raised again, same type and attributes (a
    `DataExampleError` keeps its row and column).

    The library names its arguments (`SymmFlowDataConfig` fields, `load_symmflow_data` keywords, the arguments of
    `diffusers_symmflow.training` and `SymmFlowObjective`); only the script speaks in flags, and this is where it
    translates. The scripts apply it to `ValueError`s, the library's errors about its arguments.
    """
    flags = set(vars(args))
    if error.args and isinstance(error.args[0], str):
        message = re.sub(
            r"`([a-z][a-z_]*)`", lambda m: f"--{m.group(1)}" if m.group(1) in flags else m.group(0), error.args[0]
        )
        error.args = (message, *error.args[1:])
    return error
