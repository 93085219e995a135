"""Plot the readout study's learning curves: one-step score against examples seen (log axis), one panel per task.

    python examples/research_projects/readout_study/plot_readout_curves.py \
        --results docs/benchmarks/readout-study/results.json --rounds h200 --out learning_curves.png

Reads the curves of the kept results file (`--results`, built by `benchmarks/collect_results.py`; `--rounds` keeps
the runs of the named round folders, default all) and every `NAME.json` written by `readout_study.py --out`
(directly or through `readout_grid.sh`) in the given directories, so a new grid plots beside the kept runs. A
round's runs are named by their file name; a later source overrides a run of the same name. Runs whose name starts
with `seg_` go to the segmentation panel (mIoU), `cls_` to the classification panel (accuracy). `--runs` keeps
only the named runs, in that order. `--average_seeds` merges the runs that differ only by a `_seedN` suffix (no
suffix: seed 0) into their mean at the steps they share, labelled with the seed count; `--group "LABEL=REGEX"`
(repeatable) plots instead the mean of the runs whose full name matches REGEX, as LABEL (its task prefix, `seg_` or
`cls_`, picks the panel).
"""

import argparse
import glob
import json
import os
import re

import matplotlib


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directories", nargs="*", help="Folders of `readout_study.py --out` files.")
    parser.add_argument("--results", default=None, help="A results file of `benchmarks/collect_results.py`.")
    parser.add_argument(
        "--rounds",
        nargs="*",
        default=None,
        help="With --results: the round folders to read, in this order (default: all).",
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", nargs="*", default=None, help="Run names to plot (default: all).")
    parser.add_argument("--average_seeds", action="store_true", help="Plot the mean over seeds of each run.")
    parser.add_argument(
        "--group",
        action="append",
        default=[],
        help='"LABEL=REGEX": plot the mean of the runs matching REGEX as LABEL (repeatable).',
    )
    args = parser.parse_args(argv)

    if not args.directories and not args.results:
        parser.error("give --results or at least one directory of runs")
    curves = read_results(args.results, args.rounds) if args.results else {}
    for directory in args.directories:
        for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
            name = os.path.splitext(os.path.basename(path))[0]
            with open(path) as file:
                curves[name] = json.load(file)["curve"]
    if args.group:
        grouped = {}
        for spec in args.group:
            label, _, pattern = spec.partition("=")
            members = {name: points for name, points in curves.items() if re.fullmatch(pattern, name)}
            if not members:
                raise SystemExit(f"--group {spec!r} matches no run.")
            grouped[f"{label} ({len(members)} runs)" if len(members) > 1 else label] = mean_curve(
                list(members.values())
            )
        curves = grouped
    elif args.average_seeds:
        curves = average_over_seeds(curves)
    names = args.runs if args.runs else sorted(curves)
    missing = [name for name in names if name not in curves]
    if missing:
        raise SystemExit(f"No curve for {missing}; have {sorted(curves)}.")

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    panels = {
        "seg_": (axes[0], "mean_iou", "one-step mIoU (segmentation, 11 classes)", 1.0),
        "cls_": (axes[1], "accuracy", "one-step accuracy % (classification)", 1.0),
    }
    for prefix, (axis, key, _, _) in panels.items():
        panel_names = [name for name in names if name.startswith(prefix)]
        colors = plt.cm.tab10(range(len(panel_names)))
        for name, color in zip(panel_names, colors):
            points = curves[name]
            style = "--" if "disc" in name else "-"  # discriminative baselines dashed
            axis.plot(
                [p["examples"] for p in points],
                [p[key] for p in points],
                style,
                color=color,
                marker="o",
                markersize=3,
                label=name[len(prefix) :],
            )
    for axis, _, title, _ in panels.values():
        axis.set_xscale("log")
        axis.set_xlabel("training examples seen (batch 128)")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"Wrote {args.out}")


def read_results(path: str, rounds: list[str] | None) -> dict:
    """{run name: curve points} of the rounds of a compact results file, in the order of `rounds`."""
    with open(path) as file:
        results = json.load(file)
    runs, batch_default = results["runs"], results.get("common_args", {}).get("batch", 128)
    by_round = {}
    for key, run in runs.items():
        if run["kind"] != "readout_curve":
            continue
        folder, _, name = key.rpartition("/")
        batch = run["args"].get("batch", batch_default)
        scores = {metric: values for metric, values in run["curve"].items() if metric != "step"}
        points = [
            {"step": step, "examples": step * batch, **{metric: values[i] for metric, values in scores.items()}}
            for i, step in enumerate(run["curve"]["step"])
        ]
        by_round.setdefault(folder, {})[name] = points
    missing = [name for name in rounds or [] if name not in by_round]
    if missing:
        raise SystemExit(f"No round {missing} in {path}; have {sorted(by_round)}.")
    curves = {}
    for folder in rounds if rounds is not None else sorted(by_round):
        curves.update(by_round[folder])
    return curves


def mean_curve(runs: list[list[dict]]) -> list[dict]:
    """The mean of several curves at the steps they all reached."""
    steps = sorted(set.intersection(*({p["step"] for p in points} for points in runs)))
    mean = []
    for step in steps:
        at_step = [next(p for p in points if p["step"] == step) for points in runs]
        point = {"step": step, "examples": at_step[0]["examples"]}
        for key in ("accuracy", "mean_iou"):
            if key in at_step[0]:
                point[key] = sum(p[key] for p in at_step) / len(at_step)
        mean.append(point)
    return mean


def average_over_seeds(curves: dict) -> dict:
    """{"run", "run_seed1", ...} -> {"run (n seeds)": their mean curve}."""
    groups = {}
    for name, points in curves.items():
        groups.setdefault(re.sub(r"_seed\d+$", "", name), []).append(points)
    return {
        base if len(runs) == 1 else f"{base} ({len(runs)} seeds)": mean_curve(runs) for base, runs in groups.items()
    }


if __name__ == "__main__":
    main()
