import math

import numpy as np
import pytest
import torch

from diffusers_symmflow.evaluation import (
    accuracy,
    accuracy_from_confusion_matrix,
    confusion_matrix,
    iou_from_confusion_matrix,
    label_confusion_matrix,
    label_scores,
    mask_majority_class,
    mean_iou,
)
from diffusers_symmflow.labels import LabelCodec


def test_two_by_two_by_hand():
    # target   pred
    # 0 0      0 1
    # 1 1      1 1
    # Confusion (rows target, columns prediction): [[1, 1], [0, 2]].
    # IoU_0 = TP / (TP + FP + FN) = 1 / (1 + 0 + 1) = 1/2;  IoU_1 = 2 / (2 + 1 + 0) = 2/3.
    # mIoU = (1/2 + 2/3) / 2 = 7/12; pixel accuracy = 3/4.
    target = torch.tensor([[[0, 0], [1, 1]]])
    pred = torch.tensor([[[0, 1], [1, 1]]])
    result = mean_iou(pred, target, num_classes=2)
    assert result.confusion_matrix.tolist() == [[1, 1], [0, 2]]
    assert result.per_class_iou.tolist() == pytest.approx([1 / 2, 2 / 3])
    assert result.mean_iou == pytest.approx(7 / 12)
    assert result.pixel_accuracy == pytest.approx(3 / 4)


def test_three_classes_with_unlabelled_pixels_by_hand():
    # target [0, 0, 1, 1, 2, 255], pred [0, 1, 1, 1, 0, 2], ignore_index=255 (outside the classes):
    # the last pixel is dropped, even though its prediction (2) would be a false positive of class 2.
    # Confusion: row 0 = [1, 1, 0], row 1 = [0, 2, 0], row 2 = [1, 0, 0].
    # IoU_0 = 1 / (1 + FP 1 + FN 1) = 1/3; IoU_1 = 2 / (2 + 1 + 0) = 2/3; IoU_2 = 0 / (0 + 0 + 1) = 0.
    # mIoU = (1/3 + 2/3 + 0) / 3 = 1/3; pixel accuracy = 3/5.
    target = torch.tensor([0, 0, 1, 1, 2, 255])
    pred = torch.tensor([0, 1, 1, 1, 0, 2])
    result = mean_iou(pred, target, num_classes=3, ignore_index=255)
    assert result.confusion_matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert result.per_class_iou.tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert result.mean_iou == pytest.approx(1 / 3)
    assert result.pixel_accuracy == pytest.approx(3 / 5)

    # A fourth class that occurs in neither prediction nor target is NaN and leaves the mean unchanged.
    wider = mean_iou(pred, target, num_classes=4, ignore_index=255)
    assert math.isnan(wider.per_class_iou[3])
    assert wider.mean_iou == pytest.approx(1 / 3)


def test_ignore_index_that_is_a_class_like_celebamask_background():
    # ignore_index=0 (the background, as in the authors' CelebAMask-HQ runs):
    # target [0, 0, 1, 1, 2, 2], pred [1, 0, 1, 0, 2, 2].
    # Pixels with target 0 are dropped; predicting 0 on a class-1 pixel still misses class 1.
    # Confusion: row 0 = [0, 0, 0], row 1 = [1, 1, 0], row 2 = [0, 0, 2].
    # IoU_1 = 1 / (1 + FP 0 + FN 1) = 1/2; IoU_2 = 2 / 2 = 1; class 0 is out of the mean: mIoU = 3/4.
    # Pixel accuracy = 3 of the 4 counted pixels.
    target = torch.tensor([0, 0, 1, 1, 2, 2])
    pred = torch.tensor([1, 0, 1, 0, 2, 2])
    result = mean_iou(pred, target, num_classes=3, ignore_index=0)
    assert result.confusion_matrix.tolist() == [[0, 0, 0], [1, 1, 0], [0, 0, 2]]
    assert math.isnan(result.per_class_iou[0])
    assert result.per_class_iou[1:].tolist() == pytest.approx([1 / 2, 1.0])
    assert result.mean_iou == pytest.approx(3 / 4)
    assert result.pixel_accuracy == pytest.approx(3 / 4)


def test_accumulated_confusion_matrix_scores_the_whole_set_not_the_mean_of_batches():
    # Batch 1: one pixel of class 1, predicted right (batch mIoU over its present classes = 1).
    # Batch 2: three class-0 pixels predicted 0 and one class-1 pixel predicted 0.
    #   Batch mIoU = (IoU_0 = 3/4 + IoU_1 = 0) / 2 = 3/8; the mean of the batches would be 11/16.
    # Whole set: confusion [[3, 0], [1, 1]]: IoU_0 = 3/4, IoU_1 = 1/2, mIoU = 5/8.
    batches = [
        (torch.tensor([[[1]]]), torch.tensor([[[1]]])),
        (torch.tensor([[[0, 0], [0, 0]]]), torch.tensor([[[0, 0], [0, 1]]])),
    ]
    total = sum(confusion_matrix(pred, target, 2) for pred, target in batches)
    assert total.tolist() == [[3, 0], [1, 1]]
    assert iou_from_confusion_matrix(total).mean_iou == pytest.approx(5 / 8)
    per_batch = [mean_iou(pred, target, 2).mean_iou for pred, target in batches]
    assert np.mean(per_batch) == pytest.approx(11 / 16)


def test_confusion_matrix_accepts_numpy_and_matches_a_direct_count():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 5, size=(3, 7, 9))
    pred = rng.integers(0, 5, size=(3, 7, 9))
    expected = np.zeros((5, 5), dtype=np.int64)
    np.add.at(expected, (target.reshape(-1), pred.reshape(-1)), 1)
    assert confusion_matrix(pred, target, 5).numpy().tolist() == expected.tolist()


def test_nothing_counted_gives_nan():
    target = torch.zeros(1, 2, 2, dtype=torch.long)
    result = mean_iou(torch.zeros_like(target), target, num_classes=3, ignore_index=0)
    assert math.isnan(result.mean_iou) and math.isnan(result.pixel_accuracy)
    assert math.isnan(accuracy_from_confusion_matrix(torch.zeros(3, 3)))


@pytest.mark.parametrize(
    "pred, target, kwargs, message",
    [
        (torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), {}, "integer class indices"),
        (torch.tensor([0, 3]), torch.tensor([0, 1]), {}, "`pred` holds class 3"),
        (torch.tensor([0, 1]), torch.tensor([0, -1]), {}, "`target` holds class -1"),
        (torch.tensor([0, 1]), torch.tensor([0, 255]), {"ignore_index": 0}, "or equal `ignore_index`=0"),
        (torch.tensor([0, 1, 1]), torch.tensor([0, 1]), {}, "shape"),
    ],
)
def test_confusion_matrix_rejects_bad_inputs(pred, target, kwargs, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(pred, target, num_classes=3, **kwargs)


def test_accuracy_by_hand():
    # 3 of 4 right; with ignore_index=9 the wrong one (target 9) is dropped: 3 of 3.
    pred = torch.tensor([1, 2, 3, 4])
    assert accuracy(pred, torch.tensor([1, 2, 3, 5])) == pytest.approx(3 / 4)
    assert accuracy(pred, torch.tensor([1, 2, 3, 9]), ignore_index=9) == pytest.approx(1.0)
    assert accuracy_from_confusion_matrix(torch.tensor([[2, 1], [0, 1]])) == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="shape"):
        accuracy(pred, torch.tensor([1, 2]))


def test_mask_majority_class_skips_the_background():
    masks = torch.zeros(4, 3, 3, dtype=torch.long)
    masks[0, 0, :2] = 4  # 7 background pixels, 2 of class 4 -> 4
    masks[1, 0, 0] = 2  # a tie between classes 2 and 5 -> the lower index
    masks[1, 0, 1] = 5
    masks[3] = 255  # unlabelled everywhere -> -1
    masks[3, 1, 1] = 0  # ... except one background pixel -> 0 (only excluded classes left)
    assert mask_majority_class(masks, num_classes=6, exclude=(0,)).tolist() == [4, 2, 0, 0]
    assert mask_majority_class(torch.full((1, 2, 2), 255), num_classes=6).tolist() == [-1]
    assert mask_majority_class(masks[:1], num_classes=6).tolist() == [0]  # background counted when not excluded


def test_label_scores_count_a_predicted_ignore_code_as_a_miss():
    """In the codec's label space: an ignore_index outside [0, K) has a code, and a prediction of it is a miss."""
    outside = LabelCodec(task="segmentation", num_classes=2, ignore_index=255)
    target = torch.tensor([[0, 0, 1, 255]])
    pred = torch.tensor([[0, 255, 1, 1]])
    confusion = label_confusion_matrix(pred, target, outside)
    assert confusion.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    scores = label_scores(confusion, outside, per_class=True)
    # Class 0: TP 1, FN 1 (predicted unlabelled) -> 1/2. Class 1: TP 1 -> 1. The pixel with target 255 is not counted.
    expected = {"mean_iou": pytest.approx(0.75), "pixel_accuracy": pytest.approx(2 / 3), "per_class_iou": [0.5, 1.0]}
    assert scores == expected
    # ignore_index inside [0, K): the ordinary torchmetrics semantics.
    inside = LabelCodec(task="segmentation", num_classes=2, ignore_index=0)
    counts = label_confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), inside)
    assert counts.shape == (2, 2) and label_scores(counts, inside)["mean_iou"] == pytest.approx(1.0)
    classifier = LabelCodec(task="classification", num_classes=3)
    counts = label_confusion_matrix(torch.tensor([1, 2, 0, 2]), torch.tensor([1, 2, 2, 2]), classifier)
    assert label_scores(counts, classifier) == {"accuracy": pytest.approx(0.75)}
