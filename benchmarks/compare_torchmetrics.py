"""The project's confusion matrix and mIoU against torchmetrics' on a realistic batch (issue 10, item 5).

500 masks of 32x32 with 11 classes, 70% of pixels right, one class never predicted and one absent from both; for
no `ignore_index`, one inside [0, K) (CelebAMask-HQ's 0) and one with a code of its own (255). Prints whether the
confusion matrices and the mIoU agree and the best of 20 timings of each (one thread). Needs `pip install
torchmetrics` (not a dependency of the package)::

    OMP_NUM_THREADS=1 python benchmarks/compare_torchmetrics.py
"""

import time

import torch
from torchmetrics.classification import MulticlassJaccardIndex
from torchmetrics.functional.classification import multiclass_confusion_matrix

from diffusers_symmflow.evaluation import label_confusion_matrix, label_scores
from diffusers_symmflow.labels import LabelCodec


def best_of(function, repeats: int = 20) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    num_classes, count, size = 11, 500, 32
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, num_classes, (count, size, size), generator=generator)
    noise = torch.randint(0, num_classes, (count, size, size), generator=generator)
    pred = torch.where(torch.rand(count, size, size, generator=generator) < 0.7, target, noise)
    pred[pred == 7] = 3  # class 7 is never predicted
    target[target == 9], pred[pred == 9] = 4, 4  # class 9 is absent from both

    for ignore_index in (None, 0, 255):
        codec = LabelCodec(task="segmentation", num_classes=num_classes, ignore_index=ignore_index)
        labels, predicted = target.clone(), pred.clone()
        if ignore_index == 255:
            labels[:, :2] = 255  # unlabelled rows, and predictions of the unlabelled code on labelled pixels
            predicted[:, 5] = 255
        ours = label_scores(label_confusion_matrix(predicted, labels, codec), codec)["mean_iou"]
        # torchmetrics takes no prediction outside [0, K): the ignore code becomes an extra class K, as ours does.
        tm_pred, tm_classes = predicted, num_classes
        if codec.has_ignore_code:
            tm_pred, tm_classes = torch.where(predicted == ignore_index, num_classes, predicted), num_classes + 1
        jaccard = MulticlassJaccardIndex(num_classes=tm_classes, ignore_index=ignore_index)
        theirs = float(jaccard(tm_pred, labels))
        same_matrix = torch.equal(
            label_confusion_matrix(predicted, labels, codec),
            multiclass_confusion_matrix(tm_pred, labels, tm_classes, ignore_index=ignore_index),
        )
        ours_s = best_of(lambda: label_scores(label_confusion_matrix(predicted, labels, codec), codec))

        def torchmetrics_miou(validate_args: bool) -> None:
            metric = MulticlassJaccardIndex(
                num_classes=tm_classes, ignore_index=ignore_index, validate_args=validate_args
            )
            metric.update(tm_pred, labels)
            metric.compute()

        checked_s = best_of(lambda: torchmetrics_miou(True))
        unchecked_s = best_of(lambda: torchmetrics_miou(False))
        print(
            f"ignore_index={ignore_index}: confusion matrices equal: {same_matrix}; mIoU ours {ours!r}, torchmetrics "
            f"{theirs!r} (|difference| {abs(ours - theirs):.2g}); time ours {ours_s * 1e3:.1f} ms, torchmetrics "
            f"{checked_s * 1e3:.1f} ms ({checked_s / ours_s:.2f}x), with validate_args=False "
            f"{unchecked_s * 1e3:.1f} ms ({unchecked_s / ours_s:.2f}x)"
        )


if __name__ == "__main__":
    main()
