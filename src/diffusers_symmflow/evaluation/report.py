# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Reporting: `EvaluationResults`, the scores of one evaluation run, and how they are written.

The runner (`evaluate.py`) fills an `EvaluationResults`; this module renders it: as JSON (`to_json` / `from_json`
round-trip exactly), as a markdown report (one table per metric, steps as columns, one row per sampling mode, the
per-class IoU or confusion matrix, the notes) and as matplotlib plots of each metric against the step count. It
computes no score.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any


# How the report shows each scalar metric: (title, "percent" for fractions in [0, 1] shown x100, else "plain").
METRIC_DISPLAY = {
    "mean_iou": ("mIoU (%)", "percent"),
    "pixel_accuracy": ("Pixel accuracy (%)", "percent"),
    "accuracy": ("Accuracy (%)", "percent"),
    "fid": ("FID", "plain"),
    "kid_mean": ("KID (mean over subsets)", "plain"),
    "kid_std": ("KID (std over subsets)", "plain"),
    "class_consistency": ("Class consistency (%)", "percent"),
    "round_trip_mean_iou": ("Round-trip mIoU (%)", "percent"),
    "round_trip_pixel_accuracy": ("Round-trip pixel accuracy (%)", "percent"),
    "round_trip_accuracy": ("Round-trip accuracy (%)", "percent"),
    "lpips_to_real": ("LPIPS to the real image (the authors')", "plain"),
    "lpips_diversity": ("LPIPS diversity", "plain"),
    "seconds_per_image": ("Seconds per image (model calls)", "plain"),
}
# Metrics that describe the run rather than the model: in the JSON and the tables, not plotted.
_NOT_PLOTTED = ("seconds_per_image", "kid_std")
# Numbers in a score dict that say what was run, not what was measured: in the JSON only.
_NOT_METRICS = ("num_images", "guidance_scale")


# What `summarize_report` keeps of each score dict: the scalar scores (and the per-class IoU), the guidance scale a
# generation row ran at and the time per image; confusion matrices and image counts are left out.
SUMMARY_SCORES = (
    "mean_iou",
    "pixel_accuracy",
    "accuracy",
    "fid",
    "kid_mean",
    "class_consistency",
    "round_trip_mean_iou",
    "round_trip_pixel_accuracy",
    "round_trip_accuracy",
    "lpips_to_real",
    "lpips_diversity",
    "per_class_iou",
    "guidance_scale",
    "seconds_per_image",
)


def summarize_report(report: dict[str, Any], scores: tuple[str, ...] = SUMMARY_SCORES) -> dict[str, Any]:
    """The compact form of an evaluation report that a study keeps (this module writes the reports, so it owns
    their layout; the studies' collectors call this instead of reading it themselves).

    Args:
        report (`dict`): an `EvaluationResults.to_dict()`, or the parsed JSON of `to_json` (string step keys).
        scores (`tuple[str, ...]`, defaults to `SUMMARY_SCORES`): the entries of each score dict to keep.

    Returns:
        `dict`: `{"command": settings["command"] or None, "prediction": {mode: {steps: {score: value}}},
        "generation": {row: {steps: {score: value}}}}`, step keys as in `report`, values copied (never rounded),
        `None` values left out.
    """
    summary = {"command": report.get("settings", {}).get("command")}
    for part in ("prediction", "generation"):
        summary[part] = {
            row: {
                steps: {key: value for key, value in values.items() if key in scores and value is not None}
                for steps, values in by_steps.items()
            }
            for row, by_steps in report.get(part, {}).items()
        }
    return summary


def generation_row(sampling_mode: str, guidance_scale: float = 1.0) -> str:
    """The key of `EvaluationResults.generation` for one sampling mode and classifier-free guidance scale.

    Args:
        sampling_mode (`str`): `"joint"` or `"conditional"`.
        guidance_scale (`float`, defaults to 1.0): the pipeline's `guidance_scale`.

    Returns:
        `str`: the mode's name without guidance (scale 1, the rows of results written before guidance existed),
        else e.g. `"conditional, guidance 1.5"`.
    """
    return sampling_mode if guidance_scale == 1 else f"{sampling_mode}, guidance {guidance_scale:g}"


@dataclass
class EvaluationResults:
    """Scores of one pipeline on one evaluation set, by section, sampling mode and step count.

    Args:
        task (`str`): `"segmentation"` or `"classification"`.
        num_classes (`int`): K.
        class_names (`list[str]`, *optional*): one name per class.
        ignore_index (`int`, *optional*): the target id the segmentation scores leave out.
        prediction (`dict[str, dict[int, dict]]`): `prediction[mode][steps]` holds the segmentation scores
            (`mean_iou`, `pixel_accuracy`, `per_class_iou` (K entries, `None` where undefined), `num_images`,
            `seconds_per_image`) or the classification scores (`accuracy`, `confusion_matrix` (K x K, rows targets),
            `num_images`, `seconds_per_image`) of the reverse ODE with `steps` solver steps. Fractions lie in [0, 1].
        generation (`dict[str, dict[int, dict]]`): `generation[row][steps]`, with `row = generation_row(mode,
            guidance_scale)` (the mode's name without guidance), holds `fid`, `kid_mean`, `kid_std`,
            `class_consistency`, `round_trip_mean_iou` and `round_trip_pixel_accuracy` (segmentation) or
            `round_trip_accuracy` (classification), `lpips_to_real` and `lpips_diversity` (or `None` when not
            measured), `num_images`, `seconds_per_image` and `guidance_scale` of images generated with `steps`
            solver steps.
        settings (`dict`): how the run was made (step counts, seed, batch size, feature extractor, ...).
        notes (`list[str]`): what was skipped and why, and caveats of the numbers.

    Undefined values (a class absent from the set, a metric not measured) are `None`, so the JSON is standard.
    """

    task: str
    num_classes: int
    class_names: list[str] | None = None
    ignore_index: int | None = None
    prediction: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    generation: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A plain `dict` (step counts stay `int` keys; `to_json` writes them as strings)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EvaluationResults":
        """Inverse of `to_dict`; also takes the string step keys of a parsed JSON file."""
        data = dict(data)
        for section in ("prediction", "generation"):
            data[section] = {
                mode: {int(steps): dict(scores) for steps, scores in by_steps.items()}
                for mode, by_steps in data.get(section, {}).items()
            }
        return cls(**data)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The results as JSON text, also written to `path` when given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            with open(path, "w") as file:
                file.write(text + "\n")
        return text

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "EvaluationResults":
        """Read results written by `to_json`."""
        with open(path) as file:
            return cls.from_dict(json.load(file))

    def _class_name(self, index: int) -> str:
        return self.class_names[index] if self.class_names else str(index)

    def to_markdown(self) -> str:
        """A markdown report: for each section and metric a table with one row per sampling mode and one column per
        step count, the per-class IoU (segmentation) or the confusion matrix (classification), and the notes."""
        lines = ["# SymmFlow evaluation", ""]
        lines += [f"- {key}: {_describe_setting(value)}" for key, value in self.settings.items()]
        lines += [f"- task: {self.task}, classes: {self.num_classes}, ignore_index: {self.ignore_index}", ""]

        if self.prediction:
            what = "Segmentation" if self.task == "segmentation" else "Classification"
            lines += [f"## {what} (reverse ODE, t: 1 -> 0) against solver steps", ""]
            lines += _metric_tables(self.prediction)
            if self.task == "segmentation":
                lines += self._per_class_iou_tables()
            else:
                lines += self._confusion_tables()
        if self.generation:
            lines += ["## Generation (forward ODE, t: 0 -> 1) against solver steps", ""]
            lines += _metric_tables(self.generation)
        if self.notes:
            lines += ["## Notes", ""] + [f"- {note}" for note in self.notes] + [""]
        return "\n".join(lines)

    def _per_class_iou_tables(self) -> list[str]:
        lines = []
        for mode, by_steps in self.prediction.items():
            steps = sorted(by_steps)
            lines += [f"### Per-class IoU (%), {mode} sampling", ""]
            lines += ["| class | " + " | ".join(_steps_header(s) for s in steps) + " |"]
            lines += ["|---" * (len(steps) + 1) + "|"]
            for index in range(self.num_classes):
                values = [by_steps[s]["per_class_iou"][index] for s in steps]
                lines += [f"| {self._class_name(index)} | " + " | ".join(_format(v, "percent") for v in values) + " |"]
            lines.append("")
        return lines

    def _confusion_tables(self) -> list[str]:
        lines = []
        for mode, by_steps in self.prediction.items():
            steps = min(by_steps)
            matrix = by_steps[steps]["confusion_matrix"]
            lines += [f"### Confusion matrix, {mode} sampling, {steps} step(s) (rows: true class, columns: predicted)"]
            lines += ["", "| | " + " | ".join(self._class_name(j) for j in range(self.num_classes)) + " |"]
            lines += ["|---" * (self.num_classes + 1) + "|"]
            lines += [
                f"| {self._class_name(i)} | " + " | ".join(str(count) for count in row) + " |"
                for i, row in enumerate(matrix)
            ]
            lines.append("")
        return lines

    def save_plots(self, directory: str | os.PathLike) -> list[str]:
        """Write one PNG per scalar metric (`<section>_<metric>.png`): the metric against the step count (log
        scale), one line per sampling mode. Uses matplotlib's Agg canvas, whatever backend pyplot has.

        Returns:
            The paths written.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        os.makedirs(directory, exist_ok=True)
        paths = []
        for section, results in (("prediction", self.prediction), ("generation", self.generation)):
            for metric in _scalar_metrics(results):
                if metric in _NOT_PLOTTED:
                    continue
                title, kind = METRIC_DISPLAY.get(metric, (metric, "plain"))
                scale = 100.0 if kind == "percent" else 1.0
                figure = Figure(figsize=(5, 3.5))
                FigureCanvasAgg(figure)
                axes = figure.add_subplot()
                plotted = False
                for mode, by_steps in results.items():
                    points = [(s, by_steps[s].get(metric)) for s in sorted(by_steps)]
                    points = [(s, v * scale) for s, v in points if v is not None]
                    if points:
                        axes.plot(*zip(*points), marker="o", label=mode)
                        plotted = True
                if not plotted:
                    continue
                axes.set_xscale("log")
                steps = sorted({s for by_steps in results.values() for s in by_steps})
                axes.set_xticks(steps, [str(s) for s in steps])
                axes.minorticks_off()
                axes.set_xlabel("solver steps")
                axes.set_ylabel(title)
                axes.set_title(f"{section}: {title}")
                axes.grid(alpha=0.3)
                axes.legend(title="sampling")
                figure.tight_layout()
                path = os.path.join(directory, f"{section}_{metric}.png")
                figure.savefig(path, dpi=100)
                paths.append(path)
        return paths

    def save(self, output_dir: str | os.PathLike) -> dict[str, Any]:
        """Write `results.json`, `results.md` and `plots/*.png` under `output_dir`.

        Returns:
            `{"json": path, "markdown": path, "plots": [paths]}`.
        """
        os.makedirs(output_dir, exist_ok=True)
        json_path = os.path.join(output_dir, "results.json")
        markdown_path = os.path.join(output_dir, "results.md")
        self.to_json(json_path)
        with open(markdown_path, "w") as file:
            file.write(self.to_markdown())
        plots = self.save_plots(os.path.join(output_dir, "plots"))
        return {"json": json_path, "markdown": markdown_path, "plots": plots}


def _scalar_metrics(results: dict[str, dict[int, dict[str, Any]]]) -> list[str]:
    """Names of the metrics with a number somewhere, in first-seen order; counts, lists and metrics that were not
    measured anywhere (`None` throughout, explained in the notes) left out."""
    names = []
    for by_steps in results.values():
        for scores in by_steps.values():
            for name, value in scores.items():
                if name not in _NOT_METRICS and isinstance(value, (int, float)) and name not in names:
                    names.append(name)
    return names


def _describe_setting(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}={_describe_setting(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _steps_header(steps: int) -> str:
    return "1 step" if steps == 1 else f"{steps} steps"


def _format(value: float | None, kind: str) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.2f}" if kind == "percent" else f"{value:.4g}"


def _metric_tables(results: dict[str, dict[int, dict[str, Any]]]) -> list[str]:
    lines = []
    steps = sorted({s for by_steps in results.values() for s in by_steps})
    for metric in _scalar_metrics(results):
        title, kind = METRIC_DISPLAY.get(metric, (metric, "plain"))
        lines += [f"### {title}", "", "| sampling | " + " | ".join(_steps_header(s) for s in steps) + " |"]
        lines += ["|---" * (len(steps) + 1) + "|"]
        for mode, by_steps in results.items():
            cells = [_format(by_steps[s].get(metric), kind) if s in by_steps else "" for s in steps]
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
