# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The evaluation runner: one SymmFlow pipeline, one labelled evaluation set, every score against the step count.

What it measures (paper Tables 4-6, plus the checks FID cannot make):

* segmentation models (`evaluate_segmentation`): mIoU with a per-class IoU table and pixel accuracy, with
  torchmetrics' `ignore_index` semantics (see `metrics.py`), for each step count of the reverse ODE (t: 1 -> 0);
* classification models (`evaluate_classification`): accuracy and the confusion matrix, for each step count;
* generation (`evaluate_generation`): images generated from the evaluation set's own masks / class ids (t: 0 -> 1)
  for each step count, scored by FID and KID against the real images, by class consistency (the feature
  classifier's prediction on a generated image against the class it was generated for), by LPIPS when the `lpips`
  package and its AlexNet weights are on disk (to the real image of the same label, the authors' protocol, and
  between two samples of one label, the diversity), and by round-trip scores: each generated image is segmented
  (or classified) by the same model (in one step by default) and compared with the mask (class) it was generated
  from, which checks that the image follows its mask, as FID cannot;
* every score in each requested sampling mode (`"joint"`, the paper's ODE, and `"conditional"`, which needs a model
  with a label time); a mode the model cannot run is skipped with a note.

`evaluate_pipeline` runs the part that fits the model's task plus generation and returns one `EvaluationResults`,
which writes itself as JSON (`to_json` / `from_json` round-trip exactly), as a markdown report (one table per metric,
steps as columns, one row per sampling mode) and as matplotlib plots of each metric against the step count.

Data: any re-iterable collection (a list, a `datasets.Dataset`, ...) of items `{"pixel_values": float [C, H, W] in
[-1, 1], "labels": int64 [H, W] (segmentation) or a scalar (classification)}`; tensors, arrays and nested lists all
work. A one-shot iterator is read into a list first, since the runner passes over the data several times.

Determinism: the noise of every model call comes from one CPU `torch.Generator` per image, seeded from
`(seed, stream, index of the image)` by `make_generators`. The noise an image gets therefore does not depend on the
batch size, the device, or which other step counts and modes run beside it (scores agree across batch sizes up to
float round-off in the model), and the same image gets the same noise at every step count and in every mode, so the
cells of a table differ by the step count or the mode alone.
"""

import contextlib
import importlib
import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..inputs import check_positive_int
from ..pipelines.pipeline_symmflow import SAMPLING_MODES
from .fid import (
    FeatureClassifier,
    FeatureStats,
    frechet_distance_from_stats,
    kernel_inception_distance,
    load_feature_extractor,
    train_feature_classifier,
)
from .metrics import mask_majority_class


DEFAULT_STEPS = (1, 2, 5, 10, 20, 25)
# Independent noise streams, so that segmenting an image and generating from its mask never share noise.
GENERATOR_STREAMS = {"prediction": 0, "generation": 1, "round_trip": 2, "lpips": 3, "feature_classifier": 4}
# torchvision's file name for the AlexNet weights that `lpips.LPIPS(net="alex")` loads through torch.hub.
LPIPS_ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"

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


# ----------------------------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------------------------


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
        generation (`dict[str, dict[int, dict]]`): `generation[mode][steps]` holds `fid`, `kid_mean`, `kid_std`,
            `class_consistency`, `round_trip_mean_iou` and `round_trip_pixel_accuracy` (segmentation) or
            `round_trip_accuracy` (classification), `lpips_to_real` and `lpips_diversity` (or `None` when not
            measured), `num_images`
            and `seconds_per_image` of images generated with `steps` solver steps.
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
                if name != "num_images" and isinstance(value, (int, float)) and name not in names:
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


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------------------------------------------
# Inputs: sampling modes, step counts, data, noise
# ----------------------------------------------------------------------------------------------------------------


def resolve_sampling_modes(pipe, sampling_modes: str | None | Sequence[str | None]) -> tuple[list[str], list[str]]:
    """The sampling modes to evaluate, and notes on those skipped.

    Args:
        pipe (`SymmFlowPipeline`): the pipeline.
        sampling_modes (`str`, `None` or a sequence of them): `"joint"`, `"conditional"`, or `None` for the
            pipeline's default (conditional when the model has a label time, joint otherwise).

    Returns:
        `(modes, notes)`: the distinct mode names in the order given, and one note per skipped mode.

    Raises:
        `ValueError` for an unknown mode, or when no requested mode can run on this model.
    """
    requested = [sampling_modes] if sampling_modes is None or isinstance(sampling_modes, str) else list(sampling_modes)
    if not requested:
        raise ValueError("`sampling_modes` is empty; pass 'joint', 'conditional' or None (the model's default).")
    modes, notes = [], []
    for mode in requested:
        if mode is not None and mode not in SAMPLING_MODES:
            raise ValueError(f"Unknown sampling mode {mode!r}; choose from {SAMPLING_MODES} or None.")
        if mode is None:
            mode = pipe.default_sampling_mode
        if mode not in pipe.sampling_modes:
            notes.append(
                "Skipped sampling_mode='conditional': this model has no label time input (its config has no "
                "class_embed_type='timestep'), so it cannot hold one side clean; only the paper's joint ODE runs."
            )
            continue
        if mode not in modes:
            modes.append(mode)
    if not modes:
        raise ValueError(f"None of the sampling modes {requested} can run on this model. " + " ".join(notes))
    return modes, notes


def _check_steps(steps: Sequence[int], name: str) -> list[int]:
    steps = [steps] if isinstance(steps, int) else list(steps)
    for index, value in enumerate(steps):
        check_positive_int(f"{name}[{index}]", value)
    if not steps:
        raise ValueError(f"`{name}` is empty.")
    return sorted({int(value) for value in steps})


def make_generators(seed: int, indices: Iterable[int], stream: str = "prediction") -> list[torch.Generator]:
    """One CPU generator per image, seeded from `(seed, stream, index)`.

    Args:
        seed (`int`): the run's seed.
        indices (iterable of `int`): positions of the images in the evaluation set (or in the generated set).
        stream (`str`, defaults to `"prediction"`): one of `GENERATOR_STREAMS`, so the noise of different kinds of
            calls on the same image is independent.

    Returns:
        `list[torch.Generator]`, to pass as `generator=` to the pipeline (one per image of the batch).
    """
    if stream not in GENERATOR_STREAMS:
        raise ValueError(f"Unknown generator stream {stream!r}; choose from {list(GENERATOR_STREAMS)}.")
    generators = []
    for index in indices:
        state = np.random.SeedSequence([seed, GENERATOR_STREAMS[stream], int(index)]).generate_state(1, np.uint64)
        generators.append(torch.Generator().manual_seed(int(state[0])))
    return generators


@dataclass
class _Batch:
    start: int  # index of the first item in the evaluation set
    images: torch.Tensor  # [B, C, H, W] float32 in [0, 1]
    labels: torch.Tensor  # [B, H, W] or [B] int64


def _reiterable(dataset):
    if dataset is None:
        return None
    if iter(dataset) is dataset:  # a one-shot iterator: the runner needs several passes
        return list(dataset)
    return dataset


def _item_range(start: int, count: int) -> str:
    return f"item {start}" if count == 1 else f"items {start}-{start + count - 1}"


def _collate(items: list[dict], start: int, task: str) -> _Batch:
    where = _item_range(start, len(items))
    images, labels = [], []
    for offset, item in enumerate(items):
        if not isinstance(item, dict) or "pixel_values" not in item or "labels" not in item:
            keys = list(item) if isinstance(item, dict) else type(item).__name__
            raise ValueError(f"Item {start + offset} must be a dict with 'pixel_values' and 'labels', got {keys}.")
        images.append(torch.as_tensor(item["pixel_values"], dtype=torch.float32))
        labels.append(torch.as_tensor(item["labels"]))
    try:
        images, labels = torch.stack(images), torch.stack(labels)
    except RuntimeError as error:
        raise ValueError(f"The shapes of {where} differ: {error}") from None
    if images.ndim != 4:
        raise ValueError(f"'pixel_values' must have shape [C, H, W], got {list(images.shape[1:])} ({where}).")
    low, high = float(images.min()), float(images.max())
    if low < -1.001 or high > 1.001:
        raise ValueError(f"'pixel_values' must lie in [-1, 1]; {where} span [{low}, {high}].")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"'labels' must be integer class ids, got dtype {labels.dtype} ({where}).")
    expected = 3 if task == "segmentation" else 1
    if labels.ndim != expected:
        shape = "[H, W] masks" if task == "segmentation" else "scalar class ids"
        raise ValueError(
            f"A {task} model needs {shape} as 'labels', got labels of shape {list(labels.shape[1:])} ({where})."
        )
    if task == "segmentation" and labels.shape[-2:] != images.shape[-2:]:
        raise ValueError(
            f"Masks are {tuple(labels.shape[-2:])} (HxW) but images {tuple(images.shape[-2:])} ({where})."
        )
    # The pipeline takes [0, 1] floats unambiguously; [-1, 1] tensors are recognised only by a negative value.
    return _Batch(start=start, images=((images + 1) / 2).clamp(0, 1), labels=labels.long())


def _batches(dataset, batch_size: int, task: str) -> Iterator[_Batch]:
    items, start = [], 0
    for item in dataset:
        items.append(item)
        if len(items) == batch_size:
            yield _collate(items, start, task)
            start, items = start + len(items), []
    if items:
        yield _collate(items, start, task)


def _num_batches(dataset, batch_size: int) -> int | None:
    try:
        return math.ceil(len(dataset) / batch_size)
    except TypeError:
        return None


@contextlib.contextmanager
def _quiet(pipe):
    """Silence the pipeline's per-call progress bars (the runner shows its own) and restore the user's setting."""
    previous = dict(getattr(pipe, "_progress_bar_config", {}))
    pipe.set_progress_bar_config(disable=True)
    try:
        yield
    finally:
        pipe.set_progress_bar_config(**previous)


def _check_common(pipe, task: str | None, batch_size: int) -> None:
    if task is not None and pipe.config.task != task:
        other = "evaluate_classification" if pipe.config.task == "classification" else "evaluate_segmentation"
        raise ValueError(f"This pipeline is a {pipe.config.task} model, not a {task} model; use `{other}`.")
    check_positive_int("batch_size", batch_size)


# ----------------------------------------------------------------------------------------------------------------
# Segmentation and classification scores
# ----------------------------------------------------------------------------------------------------------------


def _predict(pipe, batch: _Batch, steps: int, mode: str, generators: list[torch.Generator]) -> torch.Tensor:
    if pipe.config.task == "segmentation":
        out = pipe.segment(batch.images, num_inference_steps=steps, generator=generators, sampling_mode=mode,
                           output_type="pt")
        return out.masks.cpu()
    return pipe.classify(batch.images, num_inference_steps=steps, generator=generators, sampling_mode=mode).labels


def _evaluate_prediction(pipe, dataset, steps, sampling_modes, batch_size, seed, progress) -> EvaluationResults:
    task, num_classes = pipe.config.task, pipe.config.num_classes
    steps = _check_steps(steps, "steps")
    modes, notes = resolve_sampling_modes(pipe, sampling_modes)
    dataset = _reiterable(dataset)
    confusions = {(m, s): None for m in modes for s in steps}
    seconds = {(m, s): 0.0 for m in modes for s in steps}
    num_images = 0
    with _quiet(pipe):
        batches = tqdm(_batches(dataset, batch_size, task), total=_num_batches(dataset, batch_size),
                       desc=f"{task} ({len(modes)} mode(s) x {len(steps)} step counts)", disable=not progress)
        for batch in batches:
            indices = range(batch.start, batch.start + batch.labels.shape[0])
            num_images += len(indices)
            for mode in modes:
                for s in steps:
                    start = time.perf_counter()
                    pred = _predict(pipe, batch, s, mode, make_generators(seed, indices, "prediction"))
                    seconds[mode, s] += time.perf_counter() - start
                    counts = pipe.label_codec.confusion_matrix(pred, batch.labels)
                    previous = confusions[mode, s]
                    confusions[mode, s] = counts if previous is None else previous + counts
    if num_images == 0:
        raise ValueError("The evaluation set is empty.")

    prediction = {mode: {} for mode in modes}
    for (mode, s), counts in confusions.items():
        scores = {
            name: [_finite_or_none(v) for v in value] if isinstance(value, list) else _finite_or_none(value)
            for name, value in pipe.label_codec.scores(counts, per_class=True).items()
        }
        if task == "classification":
            scores["confusion_matrix"] = counts.tolist()
        scores.update(num_images=num_images, seconds_per_image=seconds[mode, s] / num_images)
        prediction[mode][s] = scores
    return EvaluationResults(
        task=task, num_classes=num_classes, class_names=pipe.config.class_names, ignore_index=pipe.config.ignore_index,
        prediction=prediction,
        settings={"steps": steps, "sampling_modes": modes, "batch_size": batch_size, "seed": seed,
                  "num_eval_images": num_images},
        notes=notes,
    )


def evaluate_segmentation(
    pipe,
    dataset,
    steps: Sequence[int] = DEFAULT_STEPS,
    sampling_modes: str | None | Sequence[str | None] = None,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> EvaluationResults:
    """mIoU, per-class IoU and pixel accuracy of a segmentation pipeline, for each step count and sampling mode.

    Scores are read off one confusion matrix per (mode, step count) summed over the whole set, with torchmetrics'
    `ignore_index` semantics (see `metrics.py` and `LabelCodec.confusion_matrix`).

    Args:
        pipe (`SymmFlowPipeline`): a segmentation pipeline, on the device to run on.
        dataset: re-iterable items `{"pixel_values": [C, H, W] in [-1, 1], "labels": int [H, W]}`.
        steps (sequence of `int`, defaults to `(1, 2, 5, 10, 20, 25)`): solver steps of the reverse ODE.
        sampling_modes (defaults to `None`, the model's default): `"joint"`, `"conditional"`, `None` or a sequence of
            them; modes the model cannot run are skipped with a note.
        batch_size (`int`, defaults to 16): images per model call.
        seed (`int`, defaults to 0): seed of the label noise (see `make_generators`).
        progress (`bool`, defaults to `True`): show a progress bar.

    Returns:
        `EvaluationResults` with `prediction[mode][steps]` = `{"mean_iou", "pixel_accuracy", "per_class_iou",
        "num_images", "seconds_per_image"}`.
    """
    _check_common(pipe, "segmentation", batch_size)
    return _evaluate_prediction(pipe, dataset, steps, sampling_modes, batch_size, seed, progress)


def evaluate_classification(
    pipe,
    dataset,
    steps: Sequence[int] = DEFAULT_STEPS,
    sampling_modes: str | None | Sequence[str | None] = None,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> EvaluationResults:
    """Accuracy and confusion matrix of a classification pipeline, for each step count and sampling mode.

    Args:
        pipe (`SymmFlowPipeline`): a classification pipeline, on the device to run on.
        dataset: re-iterable items `{"pixel_values": [C, H, W] in [-1, 1], "labels": int class id}`.
        steps, sampling_modes, batch_size, seed, progress: as for `evaluate_segmentation`.

    Returns:
        `EvaluationResults` with `prediction[mode][steps]` = `{"accuracy", "confusion_matrix" (K x K list, rows
        true classes), "num_images", "seconds_per_image"}`.
    """
    _check_common(pipe, "classification", batch_size)
    return _evaluate_prediction(pipe, dataset, steps, sampling_modes, batch_size, seed, progress)


# ----------------------------------------------------------------------------------------------------------------
# Generation scores
# ----------------------------------------------------------------------------------------------------------------


def default_excluded_classes(pipe) -> list[int]:
    """Classes that do not name what a mask shows: `ignore_index` when it is a class, and the model's
    `background_class` (the class `pipe.classify` leaves out of a segmentation's majority), or, for a model without
    one, classes named "background" (any case). `mask_majority_class` skips them when it gives a mask one class."""
    codec = pipe.label_codec
    ignore_index = codec.ignore_index
    excluded = [ignore_index] if ignore_index is not None and 0 <= ignore_index < codec.num_classes else []
    background = pipe.config.get("background_class")
    if background is not None:
        return excluded + [background] if background not in excluded else excluded
    names = pipe.config.class_names or []
    excluded += [i for i, name in enumerate(names) if str(name).strip().lower() == "background" and i not in excluded]
    return excluded


def _image_classes(labels: torch.Tensor, pipe, exclude: Sequence[int]) -> torch.Tensor:
    """One class per item: the class id itself, or the mask's majority class (-1 for a mask with none)."""
    if pipe.config.task == "classification":
        return labels
    return mask_majority_class(labels, pipe.config.num_classes, exclude=exclude)


def build_default_feature_classifier(
    pipe,
    dataset,
    exclude_classes: Sequence[int] | None = None,
    num_steps: int = 500,
    batch_size: int = 64,
    max_images: int | None = 10_000,
    seed: int = 0,
) -> tuple[FeatureClassifier, dict[str, Any]]:
    """Train the offline default feature network: a `FeatureClassifier` on the real images of `dataset`.

    Its classes are the items' class ids (classification) or each mask's majority class not counting
    `exclude_classes` (segmentation; masks without a countable pixel are left out).

    Args:
        pipe (`SymmFlowPipeline`): gives the image channels, K and the device.
        dataset: re-iterable items as for `evaluate_segmentation` / `evaluate_classification`.
        exclude_classes (sequence of `int`, *optional*): see `default_excluded_classes` (the default).
        num_steps (`int`, defaults to 500): optimizer steps.
        batch_size (`int`, defaults to 64): images per optimizer step.
        max_images (`int`, *optional*, defaults to 10,000): learn from the first `max_images` items only; they are
            held in memory at once (for large images, pass a `feature_extractor` to the evaluation instead).
        seed (`int`, defaults to 0): seeds the initial weights and the batch draws.

    Returns:
        `(classifier, info)`: the trained classifier in eval mode on the pipeline's device, and
        `{"train_images", "steps", "seconds", "train_accuracy"}`.
    """
    task = pipe.config.task
    exclude = default_excluded_classes(pipe) if exclude_classes is None else list(exclude_classes)
    images, classes, num_read = [], [], 0
    for batch in _batches(_reiterable(dataset), 256, task):
        take = batch.images.shape[0] if max_images is None else min(batch.images.shape[0], max_images - num_read)
        images.append(batch.images[:take])
        classes.append(_image_classes(batch.labels[:take], pipe, exclude))
        num_read += take
        if max_images is not None and num_read >= max_images:
            break
    if not images:
        raise ValueError("The data for the feature classifier is empty.")
    images, classes = torch.cat(images), torch.cat(classes)
    keep = classes >= 0
    images, classes = images[keep], classes[keep]
    if images.shape[0] < 2:
        raise ValueError(f"The feature classifier needs at least 2 images with a class, got {images.shape[0]}.")
    device = pipe._execution_device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = FeatureClassifier(in_channels=images.shape[1], num_classes=pipe.config.num_classes).to(device)
    generator = make_generators(seed, [0], "feature_classifier")[0]
    training = train_feature_classifier(classifier, images, classes, num_steps=num_steps, batch_size=batch_size,
                                        generator=generator)
    info = {"train_images": int(images.shape[0]), "steps": training.steps, "seconds": training.seconds,
            "train_accuracy": training.train_accuracy}
    return classifier, info


def lpips_weights_path() -> str:
    """Where torch.hub keeps the AlexNet weights that `lpips.LPIPS(net="alex")` needs."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", LPIPS_ALEXNET_WEIGHTS)


def _load_lpips(device) -> tuple[Any, str | None]:
    """`(lpips_model, None)`, or `(None, why not)`; never downloads (the weights must already be on disk)."""
    try:
        lpips = importlib.import_module("lpips")
    except ImportError as error:
        return None, f"LPIPS not measured: the `lpips` package cannot be imported ({error})."
    if not os.path.isfile(lpips_weights_path()):
        return None, (
            f"LPIPS not measured: the AlexNet weights are not on disk at {lpips_weights_path()} "
            "(the runner does not download them)."
        )
    return lpips.LPIPS(net="alex", verbose=False).to(device).eval(), None


def _lpips_input(images: torch.Tensor, device) -> torch.Tensor:
    """[0, 1] images to the 3-channel [-1, 1] input of LPIPS' AlexNet."""
    images = images.to(device) * 2 - 1
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


def _generate(pipe, labels: torch.Tensor, steps: int, mode: str, generators: list[torch.Generator]) -> torch.Tensor:
    """Images `[B, C, H, W]` in [0, 1] generated from masks or class ids."""
    key = "mask" if pipe.config.task == "segmentation" else "class_labels"
    out = pipe(**{key: labels}, num_inference_steps=steps, generator=generators, sampling_mode=mode, output_type="pt")
    return out.images.float()


def lpips_to_real(lpips_model, real: torch.Tensor, generated: torch.Tensor, device) -> torch.Tensor:
    """LPIPS distance `[B]` between real images and the images generated from their labels (the authors' protocol).

    Args:
        lpips_model: an `lpips.LPIPS` network (or any module with its `(image_0, image_1)` signature).
        real, generated: images `[B, C, H, W]` in [0, 1], pair `i` made from the same label; the real image is the
            first argument, as in the authors' evaluation.
    """
    return lpips_model(_lpips_input(real, device), _lpips_input(generated, device)).flatten()


def _label_batches(
    dataset, count: int, batch_size: int, task: str
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """`(index in the generated set, labels, real images)` batches of the first `count` items, cycling through the
    set."""
    produced = 0
    while produced < count:
        passed = 0
        for batch in _batches(dataset, batch_size, task):
            passed += 1
            take = min(count - produced, batch.labels.shape[0])
            yield produced, batch.labels[:take], batch.images[:take]
            produced += take
            if produced >= count:
                return
        if not passed:
            raise ValueError("The evaluation set is empty.")


def evaluate_generation(
    pipe,
    dataset,
    steps: Sequence[int] = DEFAULT_STEPS,
    sampling_modes: str | None | Sequence[str | None] = None,
    num_generated: int | None = None,
    feature_extractor: str | torch.nn.Module | None = None,
    feature_classifier_data=None,
    feature_classifier_steps: int = 500,
    feature_classifier_max_images: int | None = 10_000,
    exclude_classes: Sequence[int] | None = None,
    round_trip_steps: int = 1,
    lpips_pairs: int = 100,
    kid_subsets: int = 100,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> EvaluationResults:
    """Generate from the evaluation set's labels and score the images, for each step count and sampling mode.

    For every `(mode, steps)`, image `i` is generated from the labels of item `i mod len(dataset)` and scored by:

    * FID and KID against the features of all real images of `dataset`;
    * class consistency: how often the default feature classifier assigns a generated image the class it was
      generated for (the class id, or the mask's majority class not counting `exclude_classes`); not measured with a
      user-supplied feature extractor, whose outputs are features, not classes;
    * round trip: the same model segments (classifies) each generated image with `round_trip_steps` steps in the same
      sampling mode; mIoU and pixel accuracy (accuracy) against the mask (class) it was generated from;
    * LPIPS (when `lpips` and its AlexNet weights are on disk), over the first `lpips_pairs` labels:
      `lpips_to_real`, the mean LPIPS distance between the real image of a label and the image generated from it
      (the authors' protocol, the paper's LPIPS column), and `lpips_diversity`, the mean distance between two images
      generated from the same label with different noise (sample diversity).

    Args:
        pipe (`SymmFlowPipeline`): the pipeline, on the device to run on.
        dataset: re-iterable items as for `evaluate_segmentation` / `evaluate_classification`.
        steps (sequence of `int`, defaults to `(1, 2, 5, 10, 20, 25)`): solver steps of the forward ODE.
        sampling_modes: as for `evaluate_segmentation`.
        num_generated (`int`, *optional*): images per `(mode, steps)`; defaults to the size of `dataset`. FID is
            biased upwards for small sets: compare values at the same count only.
        feature_extractor (`str` or `nn.Module`, *optional*): a spec for `load_feature_extractor` (`inception:PATH`,
            a TorchScript file, `module:attr`), or a module taking images `(B, C, H, W)` in [0, 1] and returning
            features. `None` trains a `FeatureClassifier` (see `build_default_feature_classifier`).
        feature_classifier_data (*optional*): the items the default classifier learns from (e.g. the training split);
            defaults to `dataset`.
        feature_classifier_steps (`int`, defaults to 500): its optimizer steps.
        feature_classifier_max_images (`int`, *optional*, defaults to 10,000): the most images it learns from.
        exclude_classes (sequence of `int`, *optional*): classes a mask's majority class skips; defaults to
            `default_excluded_classes(pipe)`.
        round_trip_steps (`int`, defaults to 1): steps of the round-trip segmentation / classification.
        lpips_pairs (`int`, defaults to 100): labels scored by LPIPS (to the real image, and with a second sample
            for diversity).
        kid_subsets (`int`, defaults to 100): KID subsets (of `min(1000, sizes)` images each).
        batch_size (`int`, defaults to 16), seed (`int`, defaults to 0), progress (`bool`, defaults to `True`).

    Returns:
        `EvaluationResults` with `generation[mode][steps]` (see `EvaluationResults`); `settings["feature_extractor"]`
        describes the features and, for the default, how the classifier trained.
    """
    _check_common(pipe, None, batch_size)
    task, num_classes = pipe.config.task, pipe.config.num_classes
    steps = _check_steps(steps, "steps")
    round_trip_steps = _check_steps(round_trip_steps, "round_trip_steps")[0]
    modes, notes = resolve_sampling_modes(pipe, sampling_modes)
    dataset = _reiterable(dataset)
    exclude = default_excluded_classes(pipe) if exclude_classes is None else list(exclude_classes)
    device = pipe._execution_device

    # 1. The feature network, and the features of the real images.
    classifier = None
    if feature_extractor is None:
        classifier, info = build_default_feature_classifier(
            pipe, dataset if feature_classifier_data is None else feature_classifier_data, exclude,
            num_steps=feature_classifier_steps, max_images=feature_classifier_max_images, seed=seed,
        )
        extractor = classifier.features
        description = {"name": "FeatureClassifier trained on the real images", **info}
        if task == "segmentation":
            description["classes"] = f"majority class of each mask, not counting classes {exclude}"
    else:
        if isinstance(feature_extractor, str):
            feature_extractor = load_feature_extractor(feature_extractor)
        extractor = feature_extractor.to(device).eval()
        description = {"name": getattr(feature_extractor, "name", type(feature_extractor).__name__)}
        notes.append("Class consistency not measured: it needs the default feature classifier's class predictions.")
    real = FeatureStats()
    num_real = 0
    with torch.no_grad():
        for batch in _batches(dataset, batch_size, task):
            real.update(extractor(batch.images.to(device)))
            num_real += batch.images.shape[0]
    if num_real < 2:
        raise ValueError(f"FID and KID need at least 2 real images, the evaluation set has {num_real}.")
    num_generated = num_real if num_generated is None else num_generated
    check_positive_int("num_generated", num_generated, minimum=2)  # FID needs two images

    lpips_model, lpips_note = _load_lpips(device) if lpips_pairs > 0 else (None, "LPIPS not requested.")
    if lpips_note:
        notes.append(lpips_note)
    if num_generated < 1000:
        notes.append(
            f"FID/KID from {num_generated} generated and {num_real} real images with "
            f"{description['name']}: comparable only between runs with the same counts and features."
        )

    # 2. Generate and score, batch by batch, every (mode, steps) on the same labels and the same noise.
    configs = [(m, s) for m in modes for s in steps]
    fake = {c: FeatureStats() for c in configs}
    consistent = {c: [0, 0] for c in configs}  # [matches, counted]
    round_trip = {c: None for c in configs}
    lpips_sums = {c: [0.0, 0] for c in configs}
    lpips_real_sums = {c: 0.0 for c in configs}
    seconds = {c: 0.0 for c in configs}
    with _quiet(pipe), torch.no_grad():
        batches = tqdm(_label_batches(dataset, num_generated, batch_size, task),
                       total=math.ceil(num_generated / batch_size),
                       desc=f"generation ({len(modes)} mode(s) x {len(steps)} step counts)", disable=not progress)
        for start, labels, real_images in batches:
            indices = range(start, start + labels.shape[0])
            targets = _image_classes(labels, pipe, exclude)
            for config in configs:
                mode, s = config
                began = time.perf_counter()
                images = _generate(pipe, labels, s, mode, make_generators(seed, indices, "generation"))
                seconds[config] += time.perf_counter() - began
                fake[config].update(extractor(images.to(device)))
                if classifier is not None:
                    predicted = classifier(images.to(device)).argmax(1).cpu()
                    counted = targets >= 0
                    consistent[config][0] += int((predicted[counted] == targets[counted]).sum())
                    consistent[config][1] += int(counted.sum())
                pred = _predict(pipe, _Batch(start, images, labels), round_trip_steps, mode,
                                make_generators(seed, indices, "round_trip"))
                counts = pipe.label_codec.confusion_matrix(pred, labels)
                round_trip[config] = counts if round_trip[config] is None else round_trip[config] + counts
                paired = [i for i in indices if i < lpips_pairs]
                if lpips_model is not None and paired:
                    second = _generate(pipe, labels[: len(paired)], s, mode, make_generators(seed, paired, "lpips"))
                    distance = lpips_model(_lpips_input(images[: len(paired)], device), _lpips_input(second, device))
                    lpips_sums[config][0] += float(distance.sum())
                    lpips_sums[config][1] += len(paired)
                    lpips_real_sums[config] += float(
                        lpips_to_real(lpips_model, real_images[: len(paired)], images[: len(paired)], device).sum()
                    )

    generation = {mode: {} for mode in modes}
    for config in configs:
        mode, s = config
        kid = kernel_inception_distance(real, fake[config], num_subsets=kid_subsets, seed=seed)
        scores = {"fid": frechet_distance_from_stats(real, fake[config]), "kid_mean": kid.mean, "kid_std": kid.std}
        matches, counted = consistent[config]
        scores["class_consistency"] = matches / counted if classifier is not None and counted else None
        trip = pipe.label_codec.scores(round_trip[config])
        scores.update({f"round_trip_{name}": _finite_or_none(value) for name, value in trip.items()})
        total, pairs = lpips_sums[config]
        scores["lpips_to_real"] = lpips_real_sums[config] / pairs if pairs else None
        scores["lpips_diversity"] = total / pairs if pairs else None
        scores.update(num_images=num_generated, seconds_per_image=seconds[config] / num_generated)
        generation[mode][s] = scores
    return EvaluationResults(
        task=task, num_classes=num_classes, class_names=pipe.config.class_names, ignore_index=pipe.config.ignore_index,
        generation=generation,
        settings={"generation_steps": steps, "sampling_modes": modes, "num_generated": num_generated,
                  "round_trip_steps": round_trip_steps, "batch_size": batch_size, "seed": seed,
                  "feature_extractor": description},
        notes=notes,
    )


def evaluate_pipeline(
    pipe,
    dataset,
    steps: Sequence[int] = DEFAULT_STEPS,
    sampling_modes: str | None | Sequence[str | None] = None,
    generation_steps: Sequence[int] | None = None,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
    **generation_kwargs,
) -> EvaluationResults:
    """Segmentation or classification scores (whichever is the model's task) and generation scores, in one result.

    Args:
        pipe (`SymmFlowPipeline`): the pipeline, on the device to run on.
        dataset: re-iterable items `{"pixel_values", "labels"}` (see the module docstring).
        steps (sequence of `int`, defaults to `(1, 2, 5, 10, 20, 25)`): steps of the reverse ODE.
        sampling_modes: as for `evaluate_segmentation`; the same modes for both parts.
        generation_steps (sequence of `int`, *optional*): steps of the forward ODE; defaults to `steps`; an empty
            sequence skips generation.
        batch_size (`int`, defaults to 16), seed (`int`, defaults to 0), progress (`bool`, defaults to `True`).
        **generation_kwargs: passed to `evaluate_generation` (`num_generated`, `feature_extractor`, ...).

    Returns:
        `EvaluationResults` with both `prediction` and `generation` filled.
    """
    _check_common(pipe, None, batch_size)
    dataset = _reiterable(dataset)
    results = _evaluate_prediction(pipe, dataset, steps, sampling_modes, batch_size, seed, progress)
    generation_steps = steps if generation_steps is None else generation_steps
    if isinstance(generation_steps, int) or len(generation_steps):
        generated = evaluate_generation(pipe, dataset, generation_steps, sampling_modes, batch_size=batch_size,
                                        seed=seed, progress=progress, **generation_kwargs)
        results.generation = generated.generation
        results.settings.update(generated.settings)
        results.notes += [note for note in generated.notes if note not in results.notes]
    else:
        results.notes.append("Generation not evaluated (no generation step counts given).")
    return results
