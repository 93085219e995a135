"""diffusers_symmflow.commands.data_args: the scripts' dataset flags and their SymmFlowDataConfig (the library never
sees argparse), importable by the examples and the benchmarks alike."""

import argparse
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch
from test_data import PALETTE, stripes

import diffusers_symmflow
from diffusers_symmflow.commands.data_args import add_data_arguments, data_config_from_args
from diffusers_symmflow.data import SymmFlowDataConfig, load_symmflow_data


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(list(argv))


def test_every_data_flag_is_a_config_field_of_the_same_name():
    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    flags = {action.dest for action in parser._actions if action.dest != "help"}
    fields = {field.name for field in dataclasses.fields(SymmFlowDataConfig)}
    assert flags == fields - {"seed"}
    # The defaults agree too, so a script's flags and a library caller's keywords mean the same data.
    assert data_config_from_args(parse()) == SymmFlowDataConfig(seed=0)
    assert data_config_from_args(parse("--task", "classification", "--num_classes", "4", "--random_flip")) == (
        SymmFlowDataConfig(task="classification", num_classes=4, random_flip=True, seed=0)
    )


def test_a_typed_config_loads_what_the_flags_load(tmp_path):
    """The library takes keywords (no argparse); a palette and class names may be lists rather than flag strings."""
    import datasets

    images, masks = stripes(size=12, count=6)
    rgb = np.asarray(PALETTE, dtype=np.uint8)[masks]
    table = {"image": [PIL.Image.fromarray(i) for i in images], "mask": [PIL.Image.fromarray(m) for m in rgb]}
    datasets.Dataset.from_dict(table).save_to_disk(str(tmp_path / "ds"))
    palette_file = tmp_path / "palette.json"
    palette_file.write_text(json.dumps(PALETTE))

    typed = load_symmflow_data(
        SymmFlowDataConfig(
            dataset_name=str(tmp_path / "ds"),
            palette=PALETTE,
            class_names=["void", "block", "line"],
            validation_split=2,
        )
    )
    flagged = load_symmflow_data(
        data_config_from_args(
            parse(
                "--dataset_name",
                str(tmp_path / "ds"),
                "--palette",
                str(palette_file),
                "--class_names",
                "void,block,line",
                "--validation_split",
                "2",
            )
        )
    )
    assert (typed.num_classes, typed.class_names, len(typed.train), len(typed.validation)) == (
        3,
        ["void", "block", "line"],
        4,
        2,
    )
    assert typed.palette.tolist() == flagged.palette.tolist() == PALETTE
    for index in range(len(typed.train)):
        assert torch.equal(typed.train[index]["labels"], flagged.train[index]["labels"])
        assert torch.equal(typed.train[index]["pixel_values"], flagged.train[index]["pixel_values"])


@pytest.mark.parametrize("value", ["1.5", "0", "-2"])
def test_validation_split_must_be_a_fraction_or_a_whole_count(value, capsys):
    with pytest.raises(SystemExit):
        parse("--validation_split", value)
    assert "--validation_split must be a fraction in (0, 1) or a whole number of examples" in capsys.readouterr().err
    assert data_config_from_args(parse("--validation_split", "0.2")).validation_split == 0.2


ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_no_script_edits_sys_path_and_no_library_module_sees_argparse():
    # The scripts import the helper from the installed package; a `sys.path` edit would hide a broken import.
    scripts = [*(ROOT / "examples").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    editing = [str(path.relative_to(ROOT)) for path in scripts if "sys.path" in path.read_text()]
    assert editing == []
    # argparse stays in the scripts' module (`commands/`); the library takes typed values.
    package = ROOT / "src" / "diffusers_symmflow"
    library = [path for path in package.rglob("*.py") if "commands" not in path.relative_to(package).parts]
    offending = [
        str(path.relative_to(ROOT))
        for path in library
        if re.search(
            r"^\s*(import argparse|from argparse|from \.+commands|from diffusers_symmflow\.commands)",
            path.read_text(),
            re.M,
        )
    ]
    assert offending == []


def test_a_benchmark_finds_the_helper_when_run_as_a_file(tmp_path):
    # `python benchmarks/x.py` puts benchmarks/ (not examples/) first on sys.path: the helper must come from the
    # package. Run from a scratch directory so the checkout's folders are not on the path by accident.
    # The child imports the same package as this test (an editable install, or `PYTHONPATH=src` made absolute).
    package_root = pathlib.Path(diffusers_symmflow.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    script = ROOT / "benchmarks" / "classify_with_segmentation_model.py"
    result = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--validation_split" in result.stdout and "--dataset_name" in result.stdout


def test_library_argument_names_become_the_scripts_flags():
    import argparse

    from diffusers_symmflow.commands.data_args import as_flag_error
    from diffusers_symmflow.data import DataExampleError

    args = argparse.Namespace(mask_column=None, num_classes=3)
    error = as_flag_error(ValueError("`mask_column` 'x' is not a column; check `num_classes` and `other`."), args)
    assert str(error) == "--mask_column 'x' is not a column; check --num_classes and `other`."
    # The exception keeps its type and attributes (a bad example's row and column).
    bad = as_flag_error(DataExampleError("Row 3: check `num_classes`.", index=3, column="mask"), args)
    assert isinstance(bad, DataExampleError) and (bad.index, bad.column) == (3, "mask")
    assert str(bad) == "Row 3: check --num_classes."
