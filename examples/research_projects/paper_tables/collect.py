"""Collect the paper-tables runs (`run.sh`'s output folder) into one compact results file.

Usage: python examples/research_projects/paper_tables/collect.py OUT examples/research_projects/paper_tables/results.json

Keeps, per SymmFlow model, the readout score at every step count, FID / class consistency at 25 steps and the
evaluation command; per discriminative run, its learning rate and accuracy.
"""

import json
import os
import sys


def main(out: str, output: str) -> None:
    results = {"symmflow": {}, "discriminative": {}}
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name)
        evaluation = os.path.join(path, "eval", "results.json")
        if os.path.isfile(evaluation):
            with open(evaluation) as handle:
                report = json.load(handle)
            metric = "accuracy" if report["task"] == "classification" else "mean_iou"
            readout = {steps: scores[metric] for steps, scores in report["prediction"]["joint"].items()}
            generation = report["generation"]["joint"]["25"]
            results["symmflow"][name] = {
                "task": report["task"],
                metric: readout,
                "fid_25": generation["fid"],
                "class_consistency_25": generation["class_consistency"],
                "command": report["settings"]["command"],
            }
        elif name.startswith("discriminative") and name.endswith(".json"):
            with open(path) as handle:
                run = json.load(handle)
            results["discriminative"][name[: -len(".json")]] = {
                key: run[key] for key in ("accuracy", "train_steps", "train_seconds", "unet_preset") if key in run
            }
    with open(output, "w") as handle:
        json.dump(results, handle, indent=1)
    print(
        f"{len(results['symmflow'])} SymmFlow models, {len(results['discriminative'])} discriminative runs -> {output}"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
