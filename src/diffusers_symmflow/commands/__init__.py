# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The scripts' command-line helpers: the only place in the package where argparse lives.

diffusers keeps its argparse code in `diffusers/commands/`, apart from the library modules; the same split holds
here. Library functions take typed values (e.g. `SymmFlowDataConfig`) and never see an `argparse.Namespace`; the
modules in this folder build parsers and turn the parsed flags into those values at the script boundary. The example
scripts and the benchmarks import them from the installed package, so none of them edits `sys.path`:

    from diffusers_symmflow.commands.data_args import add_data_arguments, data_config_from_args

`data_args.py` holds the dataset flags and `as_flag_error` (a library error's `` `name` `` said as `--name`);
`train_args.py` the training script's other flags.
"""
