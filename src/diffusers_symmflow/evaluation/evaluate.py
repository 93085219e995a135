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
  with a label time); a mode the model cannot run is skipped with a note;
* generation scores at each requested classifier-free guidance scale (`guidance_scales`, the pipeline's
  `guidance_scale`; scales other than 1 need a model with a label time and are skipped with a note otherwise), one
  row per `(mode, scale)` named by `generation_row`.

`evaluate_pipeline` runs the part that fits the model's task plus generation and returns one `EvaluationResults`
(`report.py`), which writes itself as JSON (`to_json` / `from_json` round-trip exactly), as a markdown report (one
table per metric, steps as columns, one row per sampling mode) and as matplotlib plots of each metric against the
step count. This module scores; `report.py` renders, `data.py` reads the items and draws the noise, and
`feature_models.py` builds the networks the generation scores look through.

Data: any re-iterable collection (a list, a `datasets.Dataset`, ...) of items `{"pixel_values": float [C, H, W] in
[-1, 1], "labels": int64 [H, W] (segmentation) or a scalar (classification)}` (details in `data.py`).

Determinism: the noise of every model call comes from one CPU `torch.Generator` per image, seeded from
`(seed, stream, index of the image)` by `make_generators`. The noise an image gets therefore does not depend on the
batch size, the device, or which other step counts and modes run beside it (scores agree across batch sizes up to
float round-off in the model), and the same image gets the same noise at every step count and in every mode, so the
cells of a table differ by the step count or the mode alone.
"""

import contextlib
import math
import numbers
import time
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from ..inputs import check_positive_int
from ..pipelines.pipeline_symmflow import SAMPLING_MODES
from .data import (  # noqa: F401  (GENERATOR_STREAMS, make_generators: importable from here, where they lived)
    GENERATOR_STREAMS,
    EvaluationBatch,
    iter_batches,
    iter_label_batches,
    make_generators,
    num_batches,
    reiterable,
)
from .feature_models import (  # noqa: F401  (LPIPS_ALEXNET_WEIGHTS, lpips_weights_path: importable from here too)
    LPIPS_ALEXNET_WEIGHTS,
    build_default_feature_classifier,
    default_excluded_classes,
    image_classes,
    load_lpips,
    lpips_input,
    lpips_to_real,
    lpips_weights_path,
)
from .fid import FeatureStats, frechet_distance_from_stats, kernel_inception_distance, load_feature_extractor
from .metrics import label_confusion_matrix, label_scores
from .report import (  # noqa: F401  (METRIC_DISPLAY: importable from here too)
    METRIC_DISPLAY,
    EvaluationResults,
    generation_row,
)


DEFAULT_STEPS = (1, 2, 5, 10, 20, 25)


def _finite_or_none(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------------------------------------------
# Inputs: sampling modes, step counts
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
        ValueError: for an unknown mode, or when no requested mode can run on this model.
    """
    requested = [sampling_modes] if sampling_modes is None or isinstance(sampling_modes, str) else list(sampling_modes)
    if not requested:
        raise ValueError(f"`sampling_modes` is empty; pass some of {SAMPLING_MODES} or None (the model's default).")
    modes, notes = [], []
    for mode in requested:
        if mode is not None and mode not in SAMPLING_MODES:
            raise ValueError(f"Unknown sampling mode {mode!r}; choose from {SAMPLING_MODES} or None.")
        if mode is None:
            mode = pipe.default_sampling_mode
        if mode not in pipe.sampling_modes:
            notes.append(
                f"Skipped sampling_mode={mode!r}: this model has no label time input (its config has no "
                "class_embed_type='timestep'), so it cannot hold one side clean."
            )
            continue
        if mode not in modes:
            modes.append(mode)
    if not modes:
        raise ValueError(f"None of the sampling modes {requested} can run on this model. " + " ".join(notes))
    return modes, notes


def resolve_guidance_scales(pipe, guidance_scales: float | Sequence[float]) -> tuple[list[float], list[str]]:
    """The classifier-free guidance scales to generate with, and notes on those skipped.

    Args:
        pipe (`SymmFlowPipeline`): the pipeline.
        guidance_scales (`float` or a sequence of them): the pipeline's `guidance_scale` values (1 is no guidance,
            `v = v_uncond + w (v_cond - v_uncond)` otherwise); each a finite number >= 0.

    Returns:
        `(scales, notes)`: the distinct scales as floats in the order given, and one note per skipped scale (a scale
        other than 1 on a model without a label time, which has no unconditional velocity to guide with).

    Raises:
        ValueError: for an empty sequence, a value that is not a finite number >= 0, or when no scale can run.
    """
    requested = [guidance_scales] if isinstance(guidance_scales, numbers.Real) else list(guidance_scales)
    if not requested:
        raise ValueError("`guidance_scales` is empty; pass e.g. [1.0] (no guidance).")
    scales, notes = [], []
    for index, scale in enumerate(requested):
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale) or scale < 0:
            raise ValueError(
                f"`guidance_scales[{index}]` must be a finite number >= 0 (1 is no guidance), got {scale!r}."
            )
        scale = float(scale)
        if scale != 1 and not pipe.supports_conditional_sampling:
            notes.append(
                f"Skipped guidance_scale={scale:g}: this model has no label time input (its config has no "
                "class_embed_type='timestep'), so it has no unconditional velocity to guide with."
            )
            continue
        if scale not in scales:
            scales.append(scale)
    if not scales:
        raise ValueError(f"None of the guidance scales {requested} can run on this model. " + " ".join(notes))
    return scales, notes


def _check_steps(steps: Sequence[int], name: str) -> list[int]:
    steps = [steps] if isinstance(steps, int) else list(steps)
    for index, value in enumerate(steps):
        check_positive_int(f"{name}[{index}]", value)
    if not steps:
        raise ValueError(f"`{name}` is empty.")
    return sorted({int(value) for value in steps})


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


def _predict(pipe, batch: EvaluationBatch, steps: int, mode: str, generators: list[torch.Generator]) -> torch.Tensor:
    if pipe.config.task == "segmentation":
        out = pipe.segment(
            batch.images, num_inference_steps=steps, generator=generators, sampling_mode=mode, output_type="pt"
        )
        return out.masks.cpu()
    return pipe.classify(batch.images, num_inference_steps=steps, generator=generators, sampling_mode=mode).labels


def _evaluate_prediction(pipe, dataset, steps, sampling_modes, batch_size, seed, progress) -> EvaluationResults:
    task, num_classes = pipe.config.task, pipe.config.num_classes
    steps = _check_steps(steps, "steps")
    modes, notes = resolve_sampling_modes(pipe, sampling_modes)
    dataset = reiterable(dataset)
    confusions = {(m, s): None for m in modes for s in steps}
    seconds = {(m, s): 0.0 for m in modes for s in steps}
    num_images = 0
    with _quiet(pipe):
        batches = tqdm(
            iter_batches(dataset, batch_size, task),
            total=num_batches(dataset, batch_size),
            desc=f"{task} ({len(modes)} mode(s) x {len(steps)} step counts)",
            disable=not progress,
        )
        for batch in batches:
            indices = range(batch.start, batch.start + batch.labels.shape[0])
            num_images += len(indices)
            for mode in modes:
                for s in steps:
                    start = time.perf_counter()
                    pred = _predict(pipe, batch, s, mode, make_generators(seed, indices, "prediction"))
                    seconds[mode, s] += time.perf_counter() - start
                    counts = label_confusion_matrix(pred, batch.labels, pipe.label_codec)
                    previous = confusions[mode, s]
                    confusions[mode, s] = counts if previous is None else previous + counts
    if num_images == 0:
        raise ValueError("The evaluation set is empty.")

    prediction = {mode: {} for mode in modes}
    for (mode, s), counts in confusions.items():
        scores = {
            name: [_finite_or_none(v) for v in value] if isinstance(value, list) else _finite_or_none(value)
            for name, value in label_scores(counts, pipe.label_codec, per_class=True).items()
        }
        if task == "classification":
            scores["confusion_matrix"] = counts.tolist()
        scores.update(num_images=num_images, seconds_per_image=seconds[mode, s] / num_images)
        prediction[mode][s] = scores
    return EvaluationResults(
        task=task,
        num_classes=num_classes,
        class_names=pipe.config.class_names,
        ignore_index=pipe.config.ignore_index,
        prediction=prediction,
        settings={
            "steps": steps,
            "sampling_modes": modes,
            "batch_size": batch_size,
            "seed": seed,
            "num_eval_images": num_images,
        },
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
        steps (sequence of `int`, defaults to `DEFAULT_STEPS`): as for `evaluate_segmentation`.
        sampling_modes: as for `evaluate_segmentation`.
        batch_size (`int`, defaults to 16): as for `evaluate_segmentation`.
        seed (`int`, defaults to 0): as for `evaluate_segmentation`.
        progress (`bool`, defaults to `True`): as for `evaluate_segmentation`.

    Returns:
        `EvaluationResults` with `prediction[mode][steps]` = `{"accuracy", "confusion_matrix" (K x K list, rows
        true classes), "num_images", "seconds_per_image"}`.
    """
    _check_common(pipe, "classification", batch_size)
    return _evaluate_prediction(pipe, dataset, steps, sampling_modes, batch_size, seed, progress)


# ----------------------------------------------------------------------------------------------------------------
# Generation scores
# ----------------------------------------------------------------------------------------------------------------


def _generate(
    pipe, labels: torch.Tensor, steps: int, mode: str, generators: list[torch.Generator], guidance_scale: float = 1.0
) -> torch.Tensor:
    """Images `[B, C, H, W]` in [0, 1] generated from masks or class ids."""
    key = "mask" if pipe.config.task == "segmentation" else "class_labels"
    out = pipe(
        **{key: labels},
        num_inference_steps=steps,
        generator=generators,
        sampling_mode=mode,
        guidance_scale=guidance_scale,
        output_type="pt",
    )
    return out.images.float()


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
    guidance_scales: float | Sequence[float] = (1.0,),
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> EvaluationResults:
    """Generate from the evaluation set's labels and score the images, for each step count, sampling mode and
    guidance scale.

    For every `(mode, guidance scale, steps)`, image `i` is generated from the labels of item `i mod len(dataset)`
    and scored by:

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
        guidance_scales (`float` or sequence of `float`, defaults to `(1.0,)`): classifier-free guidance scales of
            the generation (the pipeline's `guidance_scale`; see `resolve_guidance_scales`). Every scale sees the same
            labels and image noise; the round trip and LPIPS run as without guidance.
        batch_size (`int`, defaults to 16), seed (`int`, defaults to 0), progress (`bool`, defaults to `True`): the
            progress bars, the default feature classifier's training included.

    Returns:
        `EvaluationResults` with `generation[generation_row(mode, scale)][steps]` (the row is the mode's name at
        scale 1; see `EvaluationResults`); `settings["feature_extractor"]` describes the features and, for the
        default, how the classifier trained.
    """
    _check_common(pipe, None, batch_size)
    task, num_classes = pipe.config.task, pipe.config.num_classes
    steps = _check_steps(steps, "steps")
    round_trip_steps = _check_steps(round_trip_steps, "round_trip_steps")[0]
    modes, notes = resolve_sampling_modes(pipe, sampling_modes)
    scales, scale_notes = resolve_guidance_scales(pipe, guidance_scales)
    notes += scale_notes
    dataset = reiterable(dataset)
    exclude = default_excluded_classes(pipe) if exclude_classes is None else list(exclude_classes)
    device = pipe._execution_device

    # 1. The feature network, and the features of the real images.
    classifier = None
    if feature_extractor is None:
        classifier, info = build_default_feature_classifier(
            pipe,
            dataset if feature_classifier_data is None else feature_classifier_data,
            exclude,
            num_steps=feature_classifier_steps,
            max_images=feature_classifier_max_images,
            seed=seed,
            progress=progress,
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
        for batch in iter_batches(dataset, batch_size, task):
            real.update(extractor(batch.images.to(device)))
            num_real += batch.images.shape[0]
    if num_real < 2:
        raise ValueError(f"FID and KID need at least 2 real images, the evaluation set has {num_real}.")
    num_generated = num_real if num_generated is None else num_generated
    check_positive_int("num_generated", num_generated, minimum=2)  # FID needs two images

    lpips_model, lpips_note = load_lpips(device) if lpips_pairs > 0 else (None, "LPIPS not requested.")
    if lpips_note:
        notes.append(lpips_note)
    if num_generated < 1000:
        notes.append(
            f"FID/KID from {num_generated} generated and {num_real} real images with "
            f"{description['name']}: comparable only between runs with the same counts and features."
        )

    # 2. Generate and score, batch by batch, every (mode, scale, steps) on the same labels and the same noise.
    configs = [(m, w, s) for m in modes for w in scales for s in steps]
    fake = {c: FeatureStats() for c in configs}
    consistent = {c: [0, 0] for c in configs}  # [matches, counted]
    round_trip = dict.fromkeys(configs)
    lpips_sums = {c: [0.0, 0] for c in configs}
    lpips_real_sums = dict.fromkeys(configs, 0.0)
    seconds = dict.fromkeys(configs, 0.0)
    with _quiet(pipe), torch.no_grad():
        batches = tqdm(
            iter_label_batches(dataset, num_generated, batch_size, task),
            total=math.ceil(num_generated / batch_size),
            desc=f"generation ({len(modes)} mode(s) x {len(scales)} guidance scale(s) x {len(steps)} step counts)",
            disable=not progress,
        )
        for start, labels, real_images in batches:
            indices = range(start, start + labels.shape[0])
            targets = image_classes(labels, pipe, exclude)
            for config in configs:
                mode, w, s = config
                began = time.perf_counter()
                images = _generate(pipe, labels, s, mode, make_generators(seed, indices, "generation"), w)
                seconds[config] += time.perf_counter() - began
                fake[config].update(extractor(images.to(device)))
                if classifier is not None:
                    predicted = classifier(images.to(device)).argmax(1).cpu()
                    counted = targets >= 0
                    consistent[config][0] += int((predicted[counted] == targets[counted]).sum())
                    consistent[config][1] += int(counted.sum())
                pred = _predict(
                    pipe,
                    EvaluationBatch(start, images, labels),
                    round_trip_steps,
                    mode,
                    make_generators(seed, indices, "round_trip"),
                )
                counts = label_confusion_matrix(pred, labels, pipe.label_codec)
                round_trip[config] = counts if round_trip[config] is None else round_trip[config] + counts
                paired = [i for i in indices if i < lpips_pairs]
                if lpips_model is not None and paired:
                    second = _generate(pipe, labels[: len(paired)], s, mode, make_generators(seed, paired, "lpips"), w)
                    distance = lpips_model(lpips_input(images[: len(paired)], device), lpips_input(second, device))
                    lpips_sums[config][0] += float(distance.sum())
                    lpips_sums[config][1] += len(paired)
                    lpips_real_sums[config] += float(
                        lpips_to_real(lpips_model, real_images[: len(paired)], images[: len(paired)], device).sum()
                    )

    generation = {generation_row(mode, w): {} for mode in modes for w in scales}
    for config in configs:
        mode, w, s = config
        kid = kernel_inception_distance(real, fake[config], num_subsets=kid_subsets, seed=seed)
        scores = {"fid": frechet_distance_from_stats(real, fake[config]), "kid_mean": kid.mean, "kid_std": kid.std}
        matches, counted = consistent[config]
        scores["class_consistency"] = matches / counted if classifier is not None and counted else None
        trip = label_scores(round_trip[config], pipe.label_codec)
        scores.update({f"round_trip_{name}": _finite_or_none(value) for name, value in trip.items()})
        total, pairs = lpips_sums[config]
        scores["lpips_to_real"] = lpips_real_sums[config] / pairs if pairs else None
        scores["lpips_diversity"] = total / pairs if pairs else None
        scores.update(num_images=num_generated, seconds_per_image=seconds[config] / num_generated, guidance_scale=w)
        generation[generation_row(mode, w)][s] = scores
    return EvaluationResults(
        task=task,
        num_classes=num_classes,
        class_names=pipe.config.class_names,
        ignore_index=pipe.config.ignore_index,
        generation=generation,
        settings={
            "generation_steps": steps,
            "sampling_modes": modes,
            "num_generated": num_generated,
            "guidance_scales": scales,
            "round_trip_steps": round_trip_steps,
            "batch_size": batch_size,
            "seed": seed,
            "feature_extractor": description,
        },
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
        batch_size (`int`, defaults to 16): images per pipeline call.
        seed (`int`, defaults to 0): seeds every random draw of the evaluation.
        progress (`bool`, defaults to `True`): show the progress bars.
        **generation_kwargs: passed to `evaluate_generation` (`num_generated`, `feature_extractor`,
            `guidance_scales`, ...).

    Returns:
        `EvaluationResults` with both `prediction` and `generation` filled.
    """
    _check_common(pipe, None, batch_size)
    dataset = reiterable(dataset)
    results = _evaluate_prediction(pipe, dataset, steps, sampling_modes, batch_size, seed, progress)
    generation_steps = steps if generation_steps is None else generation_steps
    if isinstance(generation_steps, int) or len(generation_steps):
        generated = evaluate_generation(
            pipe,
            dataset,
            generation_steps,
            sampling_modes,
            batch_size=batch_size,
            seed=seed,
            progress=progress,
            **generation_kwargs,
        )
        results.generation = generated.generation
        results.settings.update(generated.settings)
        results.notes += [note for note in generated.notes if note not in results.notes]
    else:
        results.notes.append("Generation not evaluated (no generation step counts given).")
    return results
