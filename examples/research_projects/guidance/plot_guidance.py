# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Class consistency and FID of generated digits against the classifier-free guidance scale, one line per model (seed 0 solid, other seeds faint).

Reads `results.json` beside this file (`collect_results.py`) and writes `consistency_fid_vs_guidance.png`. Models
without a label time cannot guide: they appear as one marker at scale 1.

    python examples/research_projects/guidance/plot_guidance.py
"""

import json
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> str:
    with open(os.path.join(HERE, "results.json")) as file:
        # The figure is the quickstart's; the batch-128 models are in the README's table.
        models = [m for m in json.load(file)["models"] if m.get("budget", "750 x 12") == "750 x 12"]
    figure = Figure(figsize=(10, 3.8))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    colours = {}
    for model in sorted(models, key=lambda m: m["seed"]):
        scales = sorted(model["generation"], key=float)
        key = (model["task"], model["label_time"])
        first = key not in colours
        style = {
            "marker": "o" if model["label_time"] != "diagonal" else "s",
            "linestyle": "-" if model["task"] == "segmentation" else "--",
            "alpha": 1.0 if model["seed"] == 0 else 0.45,
            "color": colours.get(key, f"C{len(colours)}"),
            "label": f"{model['task']}, {model['label_time']} label time" if first else None,
        }
        colours.setdefault(key, style["color"])
        x = [float(s) for s in scales]
        axes[0].plot(x, [100 * model["generation"][s]["class_consistency"] for s in scales], **style)
        axes[1].plot(x, [model["generation"][s]["fid"] for s in scales], **style)
    for ax, title in zip(axes, ("class consistency % (25 steps)", "FID (25 steps, feature classifier)")):
        ax.set_xlabel("guidance scale w (1 = none)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    figure.suptitle(
        "Quickstart models (750 steps of batch 12; seed 0 solid, others faint): generation against the guidance scale"
    )
    figure.tight_layout()
    path = os.path.join(HERE, "consistency_fid_vs_guidance.png")
    figure.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    print("Wrote", main())
