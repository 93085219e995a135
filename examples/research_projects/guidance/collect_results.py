# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Gather the guidance study's runs into one compact `results.json` (what the README's table and the figure read).

Reads, for each model NAME (`seg_diag`, ..., and `NAME_sS` for seed S > 0) under RUN_DIR (written by `run.sh`, and
`run_364.sh`'s folder with `--run_dir_364`): the training log line in `RUN_DIR/results.txt` (wall seconds and the
training script's own one-step validation score) and `RUN_DIR/NAME-eval/results.json` (the
evaluation, compacted by `diffusers_symmflow.evaluation.summarize_report` as every study's collector does: one-step
mIoU / accuracy, and FID, KID, class consistency and round trip at 25 steps per guidance scale); from
`run_364.sh`'s folder also the discriminative classifiers' accuracies.

    python examples/research_projects/guidance/collect_results.py /tmp/gs --run_dir_364 /tmp/gs364
"""

import argparse
import json
import os
import re

from diffusers_symmflow.evaluation import summarize_report


MODELS = {
    # name: (task, label time, training flags beyond --task)
    "seg_diag": ("segmentation", "diagonal", ""),
    "seg_mixed": ("segmentation", "mixed", "--label_time mixed"),
    "cls_diag": ("classification", "diagonal", ""),
    "cls_mixed": ("classification", "mixed", "--label_time mixed"),
}
GENERATION_KEYS = (
    "fid",
    "kid_mean",
    "class_consistency",
    "round_trip_mean_iou",
    "round_trip_accuracy",
    "seconds_per_image",
)


def read_log(run_dir: str) -> dict[str, dict]:
    """`{name: {"train_wall_s", "train_validation", "eval_wall_s"}}` from `run.sh`'s `results.txt`."""
    out = {}
    path = os.path.join(run_dir, "results.txt")
    if not os.path.exists(path):
        return out
    with open(path) as file:
        lines = file.read().splitlines()
    for line in lines:
        match = re.match(r"(\S+) (train|eval) rc=(\d+) wall_s=(\d+)(?: :: (.*))?", line.strip())
        if not match:
            continue
        name, what, rc, seconds, rest = match.groups()
        entry = out.setdefault(name, {})
        entry[f"{what}_wall_s"] = int(seconds) if rc == "0" else None
        if what == "train" and rest:
            entry["train_validation"] = rest.split("Validation ", 1)[-1]
    return out


# The two budgets: the quickstart (`run.sh`, one thread) and 364 steps of batch 128 (`run_364.sh`, two threads).
BUDGETS = {
    "750 x 12": "--num_cpu_threads 1",
    "364 x 128": "--max_train_steps 364 --train_batch_size 128 --num_cpu_threads 2",
}


def collect_models(run_dir: str, budget: str) -> tuple[list[dict], dict | None]:
    """The models of one run folder (`run.sh`'s or `run_364.sh`'s), and the evaluation settings they share."""
    logs = read_log(run_dir)
    models, settings = [], None
    runs = [(base, seed) for seed in range(10) for base in MODELS]
    for base, seed in runs:
        task, label_time, flags = MODELS[base]
        name = base if seed == 0 else f"{base}_s{seed}"
        path = os.path.join(run_dir, f"{name}-eval", "results.json")
        if not os.path.exists(path):
            continue
        with open(path) as file:
            results = json.load(file)
        if settings is None:
            settings = {
                k: results["settings"][k]
                for k in ("device", "date", "versions", "num_eval_images", "num_generated", "feature_extractor")
            }
            settings["feature_extractor"] = {k: v for k, v in settings["feature_extractor"].items() if k != "classes"}
        summary = summarize_report(results)
        ((mode, by_steps),) = summary["prediction"].items()
        one_step = by_steps["1"]
        generation = {}
        for scores_by_steps in summary["generation"].values():
            ((steps, scores),) = scores_by_steps.items()
            scale = scores.pop("guidance_scale", 1.0)
            generation[str(scale)] = {key: scores[key] for key in GENERATION_KEYS if key in scores}
        models.append(
            {
                "name": name,
                "budget": budget,
                "task": task,
                "label_time": label_time,
                "seed": seed,
                "sampling_mode": mode,
                "train_command": f"accelerate launch examples/train_symmflow.py --task {task} {flags} "
                f"{BUDGETS[budget]} --seed {seed} --output_dir {run_dir}/{name}".replace("  ", " "),
                "eval_command": results["settings"]["command"],
                **logs.get(name, {}),
                "one_step": {k: one_step[k] for k in ("mean_iou", "pixel_accuracy", "accuracy") if k in one_step},
                "generation_steps": int(steps),
                "generation": generation,
            }
        )
    return models, settings


def discriminative(run_dir: str) -> dict[str, float]:
    """`{learning rate: accuracy %}` of `run_364.sh`'s discriminative classifiers."""
    out = {}
    for file_name in sorted(os.listdir(run_dir)):
        match = re.fullmatch(r"discriminative_lr(.+)\.json", file_name)
        if match:
            with open(os.path.join(run_dir, file_name)) as file:
                out[match.group(1)] = json.load(file)["accuracy"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="run.sh's folder (the quickstart budget).")
    parser.add_argument("--run_dir_364", default=None, help="run_364.sh's folder (364 steps of batch 128).")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"))
    args = parser.parse_args()
    models, settings = collect_models(args.run_dir, "750 x 12")
    results = {"settings": settings, "models": models}
    if args.run_dir_364:
        models_364, _ = collect_models(args.run_dir_364, "364 x 128")
        models += models_364
        results["discriminative_364_accuracy_by_lr"] = discriminative(args.run_dir_364)
    with open(args.output, "w") as file:
        json.dump(results, file, indent=1)
        file.write("\n")
    print(f"Wrote {args.output} ({len(models)} models).")


if __name__ == "__main__":
    main()
