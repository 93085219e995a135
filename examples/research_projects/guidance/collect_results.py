# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Gather the guidance study's runs into one compact `results.json` (what the README's table and the figure read).

Reads, for each model NAME (`seg_diag`, ..., and `NAME_sS` for seed S > 0) under RUN_DIR (written by `run.sh`): the training log line `RUN_DIR/results.txt` (wall
seconds and the training script's own one-step validation score) and `RUN_DIR/NAME-eval/results.json` (the
evaluation, compacted by `diffusers_symmflow.evaluation.summarize_report` as every study's collector does: one-step
mIoU / accuracy, and FID, KID, class consistency and round trip at 25 steps per guidance scale).

    python examples/research_projects/guidance/collect_results.py /tmp/gs
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json"))
    args = parser.parse_args()
    logs = read_log(args.run_dir)
    models, settings = [], None
    runs = [(base, seed) for seed in range(10) for base in MODELS]
    for base, seed in runs:
        task, label_time, flags = MODELS[base]
        name = base if seed == 0 else f"{base}_s{seed}"
        path = os.path.join(args.run_dir, f"{name}-eval", "results.json")
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
                "task": task,
                "label_time": label_time,
                "seed": seed,
                "sampling_mode": mode,
                "train_command": f"accelerate launch examples/train_symmflow.py --task {task} {flags} --seed {seed} "
                f"--num_cpu_threads 1 --output_dir /tmp/gs/{name}".replace("  ", " "),
                "eval_command": results["settings"]["command"],
                **logs.get(name, {}),
                "one_step": {k: one_step[k] for k in ("mean_iou", "pixel_accuracy", "accuracy") if k in one_step},
                "generation_steps": int(steps),
                "generation": generation,
            }
        )
    with open(args.output, "w") as file:
        json.dump({"settings": settings, "models": models}, file, indent=1)
        file.write("\n")
    print(f"Wrote {args.output} ({len(models)} models).")


if __name__ == "__main__":
    main()
