# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Evaluate a saved SymmFlow pipeline: segmentation mIoU / classification accuracy and generation scores vs steps.

Takes the same dataset flags as the training script (`diffusers_symmflow.commands.data_args`, see
`diffusers_symmflow.data`; no flags = the bundled MNIST digits) and the path of a pipeline saved with `save_pretrained`. The logic lives in
`diffusers_symmflow.evaluation.evaluate`; this script loads, checks that model and data agree, runs, and writes:

* `results.json`: every number (`EvaluationResults.from_json` reads it back), with the settings and this command;
* `results.md`: one table per metric, step counts as columns, one row per sampling mode (and guidance scale);
* `plots/*.png`: each metric against the step count.

Example (the paper's step counts, both sampling modes, 500 generated images per setting)::

    HF_HUB_OFFLINE=1 python examples/evaluate_symmflow.py --pipeline symmflow-mnist \\
        --steps 1 2 5 10 20 25 --sampling_modes joint conditional \\
        --generation_steps 1 5 25 --num_generated 500 --output_dir symmflow-mnist/eval

Add `--guidance_scales 1 1.5 2 3 5` to score the generation at each classifier-free guidance scale (one row per
sampling mode and scale; needs a model trained with a label time, e.g. `--label_time mixed`).

FID / KID use the offline default features unless `--feature_extractor` names others: a `FeatureClassifier` trained
for `--feature_classifier_steps` steps on the real images of the training split. Pass
`--feature_extractor inception:/path/to/inception-2015-12-05.pt` for the standard FID features.
"""

import argparse
import datetime
import os
import platform
import shlex
import sys

import torch

import diffusers_symmflow  # noqa: F401  (registers the component classes the pipeline loader looks up)
from diffusers_symmflow.commands.data_args import add_data_arguments, as_flag_error, data_config_from_args
from diffusers_symmflow.data import load_symmflow_data
from diffusers_symmflow.evaluation import DEFAULT_STEPS, EvaluationResults, evaluate_pipeline
from diffusers_symmflow.pipelines import SymmFlowPipeline
from diffusers_symmflow.schedulers.scheduling_symmflow import SAMPLING_MODES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", type=str, required=True, help="Directory of a saved SymmFlowPipeline.")
    add_data_arguments(parser)
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=list(DEFAULT_STEPS),
        help="Solver steps for segmentation / classification (the reverse ODE).",
    )
    evaluation.add_argument(
        "--sampling_modes",
        nargs="+",
        choices=[*SAMPLING_MODES, "default"],
        default=["default"],
        help="'joint' (the paper's ODE), 'conditional' (needs a model with a label time; skipped "
        "with a note otherwise) and/or 'default' (conditional when supported, else joint).",
    )
    evaluation.add_argument(
        "--generation_steps",
        type=int,
        nargs="+",
        default=None,
        help="Solver steps for generation (the forward ODE); defaults to --steps.",
    )
    evaluation.add_argument(
        "--guidance_scales",
        type=float,
        nargs="+",
        default=[1.0],
        help="Classifier-free guidance scales of the generation (the pipeline's guidance_scale; "
        "1 = none): one row of generation scores per sampling mode and scale. Scales other "
        "than 1 need a model with a label time (skipped with a note otherwise).",
    )
    evaluation.add_argument(
        "--num_generated",
        type=int,
        default=None,
        help="Images generated per (mode, steps), from the evaluation set's labels in order "
        "(cycling); defaults to the evaluation set's size. 0 skips generation.",
    )
    evaluation.add_argument(
        "--feature_extractor",
        type=str,
        default=None,
        help="FID/KID features: 'inception:PATH', a TorchScript file or 'module:attr'. Default: a "
        "FeatureClassifier trained on the real images.",
    )
    evaluation.add_argument(
        "--feature_classifier_steps", type=int, default=500, help="Training steps of the default feature classifier."
    )
    evaluation.add_argument(
        "--feature_classifier_max_images",
        type=int,
        default=10_000,
        help="The most real images the default feature classifier learns from (held in memory).",
    )
    evaluation.add_argument(
        "--feature_classifier_split",
        choices=["train", "validation"],
        default="train",
        help="Real images the default feature classifier learns from (validation when the data "
        "has no training split).",
    )
    evaluation.add_argument(
        "--round_trip_steps",
        type=int,
        default=1,
        help="Steps with which each generated image is segmented / classified again.",
    )
    evaluation.add_argument(
        "--lpips_pairs",
        type=int,
        default=100,
        help="Labels scored by LPIPS: to their real image (the authors' protocol, `lpips_to_real`) "
        "and between two samples (`lpips_diversity`); needs `lpips` and its weights on disk.",
    )
    evaluation.add_argument("--batch_size", type=int, default=16, help="Images per model call.")
    evaluation.add_argument("--device", type=str, default=None, help="Default: cuda when available, else cpu.")
    evaluation.add_argument("--seed", type=int, default=0, help="Seed of every noise draw (one generator per image).")
    evaluation.add_argument("--output_dir", type=str, default="symmflow-evaluation")
    evaluation.add_argument("--no_progress", action="store_true", help="Hide the progress bars.")
    return parser.parse_args(argv)


def check_data_matches_pipeline(data, pipe: SymmFlowPipeline) -> None:
    """Scores of a model on data labelled another way would be silently wrong: refuse early."""
    config = pipe.config
    for name, data_value, model_value in (
        ("task", data.task, config.task),
        ("num_classes", data.num_classes, config.num_classes),
        ("ignore_index", data.ignore_index, config.ignore_index),
    ):
        if data_value != model_value:
            raise ValueError(
                f"The data has {name}={data_value!r} but the pipeline was trained with {name}={model_value!r}; pass "
                f"the dataset flags the model was trained with."
            )


def describe_device(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(device)
    return f"{device} ({os.cpu_count()} cores, {platform.machine()})"


def main(argv: list[str] | None = None) -> EvaluationResults:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")

    pipe = SymmFlowPipeline.from_pretrained(args.pipeline).to(device)
    try:
        data = load_symmflow_data(data_config_from_args(args))
    except ValueError as error:
        # The library names its arguments; say them as this script's flags.
        raise as_flag_error(error, args)
    check_data_matches_pipeline(data, pipe)
    feature_data = getattr(data, "train", None) if args.feature_classifier_split == "train" else None

    modes = [None if mode == "default" else mode for mode in args.sampling_modes]
    generation_steps = [] if args.num_generated == 0 else args.generation_steps
    results = evaluate_pipeline(
        pipe,
        data.validation,
        steps=args.steps,
        sampling_modes=modes,
        generation_steps=generation_steps,
        num_generated=args.num_generated,
        feature_extractor=args.feature_extractor,
        feature_classifier_data=feature_data,
        feature_classifier_steps=args.feature_classifier_steps,
        feature_classifier_max_images=args.feature_classifier_max_images,
        round_trip_steps=args.round_trip_steps,
        guidance_scales=args.guidance_scales,
        lpips_pairs=args.lpips_pairs,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=not args.no_progress,
    )
    if args.feature_extractor is None and results.generation:
        learned_from = "the training split" if feature_data is not None else "the evaluation images themselves"
        results.settings["feature_extractor"]["data"] = learned_from
    # What BENCHMARKS.md needs beside each number: the command, the machine and the date, first in the report.
    results.settings = {
        "pipeline": args.pipeline,
        "command": "python examples/evaluate_symmflow.py " + shlex.join(argv),
        "device": describe_device(device),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": f"torch {torch.__version__}, diffusers-symmflow {diffusers_symmflow.__version__}",
        **results.settings,
    }
    paths = results.save(args.output_dir)
    print(results.to_markdown())
    print(
        f"Wrote {paths['json']}, {paths['markdown']} and {len(paths['plots'])} plots in "
        f"{os.path.join(args.output_dir, 'plots')}."
    )
    return results


if __name__ == "__main__":
    main()
