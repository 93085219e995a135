"""examples/symmflow_data_args.py: the scripts' dataset flags and their SymmFlowDataConfig (the library never sees
argparse)."""

import argparse
import dataclasses
import json

import numpy as np
import PIL.Image
import pytest
import torch

from diffusers_symmflow.data import SymmFlowDataConfig, load_symmflow_data
from symmflow_data_args import add_data_arguments, data_config_from_args
from test_data import PALETTE, stripes


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

    typed = load_symmflow_data(SymmFlowDataConfig(
        dataset_name=str(tmp_path / "ds"), palette=PALETTE, class_names=["void", "block", "line"], validation_split=2,
    ))
    flagged = load_symmflow_data(data_config_from_args(parse(
        "--dataset_name", str(tmp_path / "ds"), "--palette", str(palette_file), "--class_names", "void,block,line",
        "--validation_split", "2",
    )))
    assert (typed.num_classes, typed.class_names, len(typed.train), len(typed.validation)) == (
        3, ["void", "block", "line"], 4, 2
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
