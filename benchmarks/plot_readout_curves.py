"""Plot the readout study's learning curves: one-step score against examples seen (log axis), one panel per task.

    python benchmarks/plot_readout_curves.py docs/benchmarks/readout-study/h200 \
        --out docs/benchmarks/readout-study/learning_curves.png

Reads every `NAME.json` written by `readout_study.py --out` (directly or through `readout_grid.sh`); runs whose name
starts with `seg_` go to the segmentation panel (mIoU), `cls_` to the classification panel (accuracy). `--runs`
keeps only the named runs, in that order.
"""

import argparse
import glob
import json
import os

import matplotlib


matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory")
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", nargs="*", default=None, help="Run names to plot (default: all).")
    args = parser.parse_args(argv)

    curves = {}
    for path in sorted(glob.glob(os.path.join(args.directory, "*.json"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path) as file:
            curves[name] = json.load(file)["curve"]
    names = args.runs if args.runs else sorted(curves)
    missing = [name for name in names if name not in curves]
    if missing:
        raise SystemExit(f"No curve for {missing} in {args.directory}.")

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    panels = {"seg_": (axes[0], "mean_iou", "one-step mIoU (segmentation, 11 classes)", 1.0),
              "cls_": (axes[1], "accuracy", "one-step accuracy % (classification)", 1.0)}
    for prefix, (axis, key, _, _) in panels.items():
        panel_names = [name for name in names if name.startswith(prefix)]
        colors = plt.cm.tab20(range(len(panel_names)))
        for name, color in zip(panel_names, colors):
            points = curves[name]
            style = "--" if "_disc_" in name else "-"  # discriminative baselines dashed
            axis.plot([p["examples"] for p in points], [p[key] for p in points], style, color=color, marker="o",
                      markersize=3, label=name[len(prefix):])
    for axis, _, title, _ in panels.values():
        axis.set_xscale("log")
        axis.set_xlabel("training examples seen (batch 128)")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
