# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Segmentation and classification metrics, accumulated as a confusion matrix.

mIoU follows torchmetrics' ``MulticlassJaccardIndex(average="macro", ignore_index=...)``, which the authors use
(CelebAMask-HQ: 19 classes, ``ignore_index=0``; COCO-Stuff: 172 classes, ``ignore_index=171``):

* pixels whose *target* is ``ignore_index`` are dropped before counting; predictions of that class on other
  pixels still count (as misses of the true class);
* the IoU of class ``c`` is ``TP / (TP + FP + FN)`` read off the confusion matrix summed over the *whole* set
  (one matrix for all batches; averaging per-batch IoUs would weigh small batches and rare classes wrongly);
* the mean runs over the classes that occur, in the target or the prediction, somewhere in the set, and leaves
  out ``ignore_index`` itself when it is a class index. Classes absent from both get an IoU of NaN here
  (torchmetrics reports 0 with zero weight: the mean is the same).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers.utils import BaseOutput

from ..inputs import check_positive_int
from ..labels import LabelCodec


@dataclass
class MeanIoUOutput(BaseOutput):
    """Segmentation scores read off one confusion matrix.

    Args:
        mean_iou (`float`): mean of `per_class_iou` over its non-NaN entries, in [0, 1]; NaN if no class occurs.
        per_class_iou (`torch.Tensor` of shape `(num_classes,)`, float64): IoU per class in [0, 1]; NaN for classes
            absent from both prediction and target, and for `ignore_index`.
        pixel_accuracy (`float`): fraction of counted (non-ignored) pixels predicted right, in [0, 1].
        confusion_matrix (`torch.Tensor` of shape `(num_classes, num_classes)`, int64): rows are targets, columns
            predictions.
    """

    mean_iou: float
    per_class_iou: torch.Tensor
    pixel_accuracy: float
    confusion_matrix: torch.Tensor


def _as_index_tensor(values, name: str) -> torch.Tensor:
    values = torch.as_tensor(values)
    if values.is_floating_point() or values.is_complex() or values.dtype == torch.bool:
        raise ValueError(
            f"`{name}` must hold integer class indices, got dtype {values.dtype}; take the argmax of scores first."
        )
    return values.long()


# Not torchmetrics' MulticlassConfusionMatrix / MulticlassJaccardIndex, measured (benchmarks/compare_torchmetrics.py,
# torchmetrics 1.9, 500 masks of 32x32, 11 classes, one CPU thread): the matrices agree exactly, but its mIoU does
# not: float32 (1e-8 off this float64 one), and where `ignore_index` has a code of its own (255) its macro mean
# counts that code as a class (0.438 vs 0.482). It was also 2.9-18x slower with its default argument checks; without
# them 0.6-1.3x, but an id out of range then miscounts or fails in a reshape instead of naming the id.
def confusion_matrix(
    pred: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    num_classes: int,
    ignore_index: int | None = None,
) -> torch.Tensor:
    """Count (target, prediction) pairs, for pixels of masks or for image labels alike.

    Args:
        pred (`torch.Tensor` or `np.ndarray` of integers, any shape): predicted classes in `[0, num_classes)`.
        target (same shape as `pred`): true classes in `[0, num_classes)`, or `ignore_index`.
        num_classes (`int`): K.
        ignore_index (`int`, *optional*): target value whose entries are not counted. May lie outside
            `[0, num_classes)` (e.g. 255 for "unlabelled").

    Returns:
        `torch.Tensor` of shape `(K, K)`, int64, on `pred`'s device: entry `[i, j]` counts elements with target `i`
        predicted as `j`. Sum matrices of several batches to score a whole set.
    """
    check_positive_int("num_classes", num_classes)
    pred = _as_index_tensor(pred, "pred")
    target = _as_index_tensor(target, "target").to(pred.device)
    if pred.shape != target.shape:
        raise ValueError(f"`pred` has shape {tuple(pred.shape)} but `target` has {tuple(target.shape)}.")
    pred, target = pred.reshape(-1), target.reshape(-1)
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    if pred.numel():
        for name, values in (("pred", pred), ("target", target)):
            low, high = int(values.min()), int(values.max())
            if low < 0 or high >= num_classes:
                bad = low if low < 0 else high
                extra = "" if name == "pred" or ignore_index is None else f" or equal `ignore_index`={ignore_index}"
                raise ValueError(f"`{name}` holds class {bad}; values must lie in [0, {num_classes}){extra}.")
    counts = torch.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def accuracy_from_confusion_matrix(confusion: torch.Tensor) -> float:
    """Fraction of counted elements on the diagonal of `confusion` (`(K, K)`), in [0, 1]; NaN if it is empty."""
    confusion = torch.as_tensor(confusion).double()
    total = confusion.sum()
    return float(torch.trace(confusion) / total) if total > 0 else float("nan")


def iou_from_confusion_matrix(confusion: torch.Tensor, ignore_index: int | None = None) -> MeanIoUOutput:
    """Per-class IoU, mIoU and pixel accuracy of an accumulated confusion matrix.

    Args:
        confusion (`torch.Tensor` of shape `(K, K)`): from `confusion_matrix` (rows targets, columns predictions),
            summed over the whole evaluation set.
        ignore_index (`int`, *optional*): the value given to `confusion_matrix`. When it is a class index, that
            class is left out of the mean (its row is empty, so its IoU would only measure false positives).

    Returns:
        `MeanIoUOutput`.
    """
    confusion = torch.as_tensor(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"`confusion` must be a square matrix, got shape {tuple(confusion.shape)}.")
    counts = confusion.detach().cpu().double()
    true_positive = torch.diag(counts)
    union = counts.sum(0) + counts.sum(1) - true_positive
    per_class = torch.where(union > 0, true_positive / union.clamp_min(1), torch.full_like(union, float("nan")))
    if ignore_index is not None and 0 <= ignore_index < counts.shape[0]:
        per_class[ignore_index] = float("nan")
    present = ~torch.isnan(per_class)
    mean = float(per_class[present].mean()) if present.any() else float("nan")
    return MeanIoUOutput(
        mean_iou=mean,
        per_class_iou=per_class,
        pixel_accuracy=accuracy_from_confusion_matrix(counts),
        confusion_matrix=confusion.detach().cpu().long(),
    )


def label_confusion_matrix(pred: Any, target: Any, codec: LabelCodec) -> torch.Tensor:
    """Confusion matrix of predicted vs. true class ids in `codec`'s label space, ready for `label_scores`.

    A model whose `ignore_index` has a code of its own (`codec.has_ignore_code`, e.g. 255 in segmentation) may
    *predict* it. Such a prediction on a labelled pixel misses the true class without being a false positive of
    another, so it is counted in an extra column K: the matrix is then `(K + 1, K + 1)` (its last row empty),
    `(K, K)` otherwise. Targets equal to `codec.ignore_index` are not counted.

    Args:
        pred (`torch.Tensor` or `np.ndarray` of integers): predicted class ids (masks `[B, H, W]` or labels `[B]`),
            as the pipeline's `segment` / `classify` return them.
        target (same shape as `pred`): true class ids, or `codec.ignore_index`.
        codec (`LabelCodec`): the label space (the pipeline's `label_codec`).

    Returns:
        `torch.Tensor` int64 on the CPU, rows targets, columns predictions. Sum it over batches.
    """
    pred, target = torch.as_tensor(pred).long().cpu(), torch.as_tensor(target).long().cpu()
    if codec.has_ignore_code:
        pred = torch.where(pred == codec.ignore_index, codec.num_classes, pred)
        return confusion_matrix(pred, target, codec.num_classes + 1, ignore_index=codec.ignore_index)
    return confusion_matrix(pred, target, codec.num_classes, ignore_index=codec.ignore_index)


def label_scores(confusion: torch.Tensor, codec: LabelCodec, per_class: bool = False) -> dict[str, Any]:
    """Scores of a summed `label_confusion_matrix`, as floats in [0, 1] (NaN where undefined).

    Args:
        confusion (`torch.Tensor`): from `label_confusion_matrix` with the same `codec`, summed over the evaluation
            set.
        codec (`LabelCodec`): the label space; its task picks the scores.
        per_class (`bool`, defaults to `False`): segmentation: also return `per_class_iou`, K floats.

    Returns:
        Segmentation: `{"mean_iou", "pixel_accuracy"}` (torchmetrics' macro mIoU; an `ignore_index` inside [0, K)
        is left out of the mean, one with its own code only counts as a miss). Classification: `{"accuracy"}`.
    """
    if codec.config.task == "classification":
        return {"accuracy": accuracy_from_confusion_matrix(confusion)}
    ignore = codec.num_classes if codec.has_ignore_code else codec.ignore_index
    iou = iou_from_confusion_matrix(confusion, ignore_index=ignore)
    scores = {"mean_iou": iou.mean_iou, "pixel_accuracy": iou.pixel_accuracy}
    if per_class:
        scores["per_class_iou"] = iou.per_class_iou[: codec.num_classes].tolist()
    return scores


def mean_iou(
    pred: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    num_classes: int,
    ignore_index: int | None = None,
) -> MeanIoUOutput:
    """mIoU of one set of predicted masks, with torchmetrics' macro-average semantics (see the module docstring).

    Args:
        pred (`torch.Tensor` of shape `(B, H, W)` or any shape, integers): predicted class ids in `[0, num_classes)`.
        target (same shape): true class ids, or `ignore_index`.
        num_classes (`int`): K.
        ignore_index (`int`, *optional*): target value to leave out.

    Returns:
        `MeanIoUOutput`. To score a set batch by batch, sum `confusion_matrix(...)` over the batches and call
        `iou_from_confusion_matrix` once.
    """
    return iou_from_confusion_matrix(confusion_matrix(pred, target, num_classes, ignore_index), ignore_index)


def accuracy(
    pred: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    ignore_index: int | None = None,
) -> float:
    """Fraction of predictions equal to their target.

    Args:
        pred (`torch.Tensor` or `np.ndarray` of integers, any shape): predicted classes (image labels or pixels).
        target (same shape): true classes.
        ignore_index (`int`, *optional*): target value whose entries are not counted.

    Returns:
        `float` in [0, 1]; NaN when nothing is counted.
    """
    pred = _as_index_tensor(pred, "pred")
    target = _as_index_tensor(target, "target").to(pred.device)
    if pred.shape != target.shape:
        raise ValueError(f"`pred` has shape {tuple(pred.shape)} but `target` has {tuple(target.shape)}.")
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    if not target.numel():
        return float("nan")
    return float((pred == target).double().mean())


def mask_majority_class(
    masks: torch.Tensor,
    num_classes: int,
    exclude: Sequence[int] = (),
) -> torch.Tensor:
    """The most frequent class of each mask, not counting the classes in `exclude` (e.g. the background).

    Used to give a segmentation mask one class label: the class a generated image should show, and the class a
    real image is taught under when the evaluation trains its own feature classifier.

    Args:
        masks (`torch.Tensor` of shape `(B, H, W)`, integers): class ids; values outside `[0, num_classes)` (an
            "unlabelled" id such as 255) are not counted.
        num_classes (`int`): K.
        exclude (sequence of `int`, defaults to `()`): classes not to count, unless a mask holds nothing else.

    Returns:
        `torch.Tensor` of shape `(B,)`, int64: the majority class; ties go to the lower index. A mask with only
        excluded classes gets its majority among those; a mask with no countable pixel at all gets -1.
    """
    masks = _as_index_tensor(masks, "masks")
    if masks.ndim != 3:
        raise ValueError(f"`masks` must have shape (B, H, W), got {tuple(masks.shape)}.")
    flat = masks.reshape(masks.shape[0], -1)
    valid = (flat >= 0) & (flat < num_classes)
    offsets = torch.arange(flat.shape[0], device=flat.device)[:, None] * num_classes
    counts = torch.bincount((flat + offsets)[valid], minlength=flat.shape[0] * num_classes)
    counts = counts.reshape(flat.shape[0], num_classes)
    kept = counts.clone()
    excluded = [c for c in exclude if 0 <= c < num_classes]
    kept[:, excluded] = 0
    # Fall back to all classes for masks that hold only excluded ones.
    kept = torch.where(kept.sum(1, keepdim=True) > 0, kept, counts)
    majority = kept.argmax(1)
    return torch.where(kept.sum(1) > 0, majority, torch.full_like(majority, -1))
