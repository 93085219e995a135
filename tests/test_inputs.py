"""The input rules training and inference share (`diffusers_symmflow.inputs`): a mask file means the same classes in
`data.mask_to_ids` (training, evaluation) and in the pipeline's image processor (inference)."""

import re

import numpy as np
import PIL.Image
import pytest
import torch

from diffusers_symmflow.data import image_to_tensor, mask_to_ids
from diffusers_symmflow.evaluation import confusion_matrix
from diffusers_symmflow.inputs import check_finite, check_positive_int
from diffusers_symmflow.labels import LabelCodec, generate_palette
from diffusers_symmflow.pipelines.image_processor_symmflow import SymmFlowImageProcessor
from diffusers_symmflow.schedulers import SymmFlowScheduler


def voc_palette(num_colors: int = 256) -> np.ndarray:
    """PASCAL VOC's palette: the bits of the index spread over R, G and B, most significant first."""
    palette = np.zeros((num_colors, 3), dtype=np.uint8)
    for index in range(num_colors):
        value, shift = index, 7
        while value:
            for channel in range(3):
                palette[index, channel] |= ((value >> channel) & 1) << shift
            value >>= 3
            shift -= 1
    return palette


# The model paints class 1 in the colour VOC gives id 2, and class 2 in VOC's colour of id 1: reading a VOC "P" mask
# through its palette would swap the classes silently.
MODEL_PALETTE = [[0, 0, 0], [0, 128, 0], [128, 0, 0]]
IDS = np.array([[0, 1, 2, 2], [2, 1, 0, 0], [1, 1, 2, 0], [0, 2, 2, 1]], dtype=np.uint8)


@pytest.fixture
def codec():
    return LabelCodec(task="segmentation", encoding="onehot", num_classes=3, palette=MODEL_PALETTE)


def test_voc_palette_p_mask_gives_the_same_ids_in_training_and_inference(codec):
    assert voc_palette()[1].tolist() == [128, 0, 0] and voc_palette()[2].tolist() == [0, 128, 0]
    mask = PIL.Image.fromarray(IDS)
    mask.putpalette(voc_palette().reshape(-1).tolist())
    assert mask.mode == "P"

    training = mask_to_ids(mask, codec)
    inference = SymmFlowImageProcessor().preprocess_masks(mask, codec)[0]
    np.testing.assert_array_equal(training.numpy(), IDS)
    np.testing.assert_array_equal(inference.numpy(), IDS)


def test_rgb_masks_go_through_the_model_palette_in_both(codec):
    rgb = PIL.Image.fromarray(np.asarray(MODEL_PALETTE, dtype=np.uint8)[IDS])
    np.testing.assert_array_equal(mask_to_ids(rgb, codec).numpy(), IDS)
    np.testing.assert_array_equal(SymmFlowImageProcessor().preprocess_masks(rgb, codec)[0].numpy(), IDS)


def test_unsupported_pil_mode_is_named_in_both(codec):
    mask = PIL.Image.new("LA", (4, 4))
    with pytest.raises(ValueError, match="mode 'LA'"):
        mask_to_ids(mask, codec)
    with pytest.raises(ValueError, match=r"`mask\[0\]`.*mode 'LA'"):
        SymmFlowImageProcessor().preprocess_masks(mask, codec)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_training_images_and_masks_raise(codec, bad):
    image = np.full((4, 4), 0.5, dtype=np.float32)
    image[1, 2] = bad
    with pytest.raises(ValueError, match=r"column 'image' holds 1 NaN or infinite"):
        image_to_tensor(image, 1, "image")
    mask = IDS.astype(np.float32)
    mask[0, 0] = bad
    with pytest.raises(ValueError, match=r"column 'mask' holds 1 NaN or infinite"):
        mask_to_ids(mask, codec, "mask")


def test_check_finite_passes_integers_and_finite_floats():
    check_finite(np.zeros((2, 2), dtype=np.uint8), "x")
    check_finite(torch.ones(3), "x")
    with pytest.raises(ValueError, match="y holds 2 NaN"):
        check_finite(torch.tensor([float("nan"), 0.0, float("inf")]), "y")


def test_check_positive_int_accepts_counts_and_names_the_argument():
    assert check_positive_int("steps", 3) == 3
    assert check_positive_int("steps", np.int64(2)) == 2 and type(check_positive_int("steps", np.int64(2))) is int
    assert check_positive_int("num_classes", 2, minimum=2) == 2
    for bad in (0, -1, 2.0, True, "3", None):
        with pytest.raises(ValueError, match=rf"^`steps` must be a positive integer, got {re.escape(repr(bad))}\.$"):
            check_positive_int("steps", bad)
    with pytest.raises(ValueError, match=r"^`num_classes` must be an integer >= 2, got 1\.$"):
        check_positive_int("num_classes", 1, minimum=2)
    # A command-line flag is shown as typed.
    with pytest.raises(ValueError, match=r"^--batch_size must be a positive integer, got 0\.$"):
        check_positive_int("--batch_size", 0)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: LabelCodec(num_classes=1), "`num_classes` must be an integer >= 2, got 1"),
        (lambda: SymmFlowScheduler().set_timesteps(0), "`num_inference_steps` must be a positive integer, got 0"),
        (lambda: confusion_matrix([0], [0], num_classes=1.5), "`num_classes` must be a positive integer, got 1.5"),
        (lambda: generate_palette(0), "`num_colors` must be a positive integer, got 0"),
    ],
)
def test_the_package_uses_the_one_positive_int_rule(call, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        call()
