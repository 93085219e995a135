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


# ----------------------------------------------------------------------------------------------------------------
# One reader: training (`data.image_to_tensor` / `data.mask_to_ids`) and the pipeline's image processor read every
# image and mask through `inputs.read_image` / `inputs.read_mask`.
# ----------------------------------------------------------------------------------------------------------------

GRADIENT_16 = (np.arange(16, dtype=np.uint32).reshape(4, 4) * 4369).astype(np.uint16)  # 0 .. 65535


def _both_images(image, num_channels=1) -> tuple[np.ndarray, np.ndarray]:
    """The image as training reads it and as the pipeline reads it, both `[H, W, C]` in [0, 1]."""
    training = image_to_tensor(image, num_channels, "image").permute(1, 2, 0).numpy()
    inference = SymmFlowImageProcessor().preprocess_images(image, num_channels)[0].permute(1, 2, 0).numpy()
    return training, (inference + 1) / 2


@pytest.mark.parametrize("num_channels", [1, 3])
def test_16_bit_images_are_scaled_by_65535_in_both(num_channels, tmp_path):
    expected = np.repeat((GRADIENT_16 / 65535.0).astype(np.float32)[..., None], num_channels, axis=-1)
    image = PIL.Image.fromarray(GRADIENT_16)
    assert image.mode == "I;16"
    path = tmp_path / "sixteen.png"
    image.save(path)
    reopened = PIL.Image.open(path)  # a 16-bit PNG, as a user's file opens
    for value in (image, reopened, GRADIENT_16):
        for read in _both_images(value, num_channels):
            np.testing.assert_allclose(read, expected, atol=1e-6)
            assert len(np.unique(read)) == 16  # not clipped to {0, 1} as convert("L") did


def test_float_images_in_unit_range_are_read_as_they_are_in_both():
    values = (GRADIENT_16 / 65535.0).astype(np.float32)
    image = PIL.Image.fromarray(values, mode="F")
    for read in _both_images(image):
        np.testing.assert_allclose(read[..., 0], values, atol=1e-6)
    out_of_range = PIL.Image.fromarray(values * 255, mode="F")
    with pytest.raises(ValueError, match=r"column 'image' holds float values in \[0, 255\]"):
        image_to_tensor(out_of_range, 1, "image")
    with pytest.raises(ValueError, match=r"`image\[0\]` holds float values in \[0, 255\]"):
        SymmFlowImageProcessor().preprocess_images(out_of_range, 1)
    nan = values.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="holds 1 NaN"):
        image_to_tensor(PIL.Image.fromarray(nan, mode="F"), 1, "image")


def test_mode_i_images_read_as_16_bit_and_refuse_ambiguous_ranges():
    sixteen = PIL.Image.fromarray(GRADIENT_16.astype(np.int32), mode="I")
    for read in _both_images(sixteen):
        np.testing.assert_allclose(read[..., 0], GRADIENT_16 / 65535.0, atol=1e-6)
    eight = PIL.Image.fromarray(np.full((4, 4), 200, dtype=np.int32), mode="I")
    with pytest.raises(ValueError, match=r"column 'image'.*mode 'I'.*\[200, 200\].*does not say its range"):
        image_to_tensor(eight, 1, "image")
    with pytest.raises(ValueError, match=r"`image\[0\]`.*mode 'I'"):
        SymmFlowImageProcessor().preprocess_images(eight, 1)
    wide = PIL.Image.fromarray(np.full((4, 4), 70000, dtype=np.int32), mode="I")
    with pytest.raises(ValueError, match=r"\[70000, 70000\]"):
        image_to_tensor(wide, 1, "image")


def test_integer_arrays_are_scaled_by_their_dtype_in_both():
    eight_bit_in_int64 = np.array([[0, 51], [102, 255]], dtype=np.int64)
    for read in _both_images(eight_bit_in_int64):
        np.testing.assert_allclose(read[..., 0], eight_bit_in_int64 / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"int64 values in \[0, 300\].*declare no range"):
        image_to_tensor(np.array([[0, 300]]), 1, "image")
    with pytest.raises(ValueError, match=r"int64 values in \[0, 300\].*declare no range"):
        SymmFlowImageProcessor().preprocess_images(np.array([[0, 300]]), 1)


def test_rgb_arrays_convert_to_grayscale_in_both_as_pil_images_do():
    rgb = np.random.default_rng(0).integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    training, inference = _both_images(rgb, 1)
    np.testing.assert_allclose(training, inference, atol=1e-6)
    # PIL's integer luma rounds; the float luma of arrays agrees within one 8-bit level.
    pil = _both_images(PIL.Image.fromarray(rgb), 1)[1]
    np.testing.assert_allclose(inference, pil, atol=1 / 255 + 1e-6)


@pytest.mark.parametrize(
    "mask",
    [
        IDS[..., None],  # [H, W, 1]
        IDS[..., None].astype(np.int64),
        torch.from_numpy(IDS[..., None].astype(np.int64)),
        IDS[None].astype(np.int32),  # [1, H, W]
        np.asarray(MODEL_PALETTE, dtype=np.int64)[IDS],  # [H, W, 3] int64 colours
        IDS.astype(np.float32),  # floats holding integers (the label codec's rule)
    ],
    ids=["HW1-uint8", "HW1-int64", "HW1-tensor", "1HW-int32", "HW3-int64-colours", "HW-float"],
)
def test_one_mask_rule_for_training_and_the_pipeline(codec, mask):
    np.testing.assert_array_equal(mask_to_ids(mask, codec).numpy(), IDS)
    np.testing.assert_array_equal(SymmFlowImageProcessor().preprocess_masks(mask, codec).numpy(), IDS[None])


def test_a_batch_in_one_training_example_is_refused(codec):
    with pytest.raises(ValueError, match=r"Column 'mask'.*read as 2 masks; an example holds one mask"):
        mask_to_ids(np.stack([IDS, IDS]), codec, "mask")
    np.testing.assert_array_equal(SymmFlowImageProcessor().preprocess_masks(np.stack([IDS, IDS]), codec), [IDS, IDS])


def test_unknown_colours_name_the_mask_in_both(codec):
    colours = np.asarray(MODEL_PALETTE, dtype=np.int64)[IDS]
    colours[0, 0] = [1, 2, 3]
    with pytest.raises(ValueError, match=r"column 'mask' holds colours that are not in the palette.*`palette`"):
        mask_to_ids(colours, codec, "mask")
    with pytest.raises(ValueError, match=r"`mask\[0\]` holds colours that are not in the palette"):
        SymmFlowImageProcessor().preprocess_masks(colours, codec)


def test_one_description_helper():
    import diffusers_symmflow.data as data
    import diffusers_symmflow.pipelines.image_processor_symmflow as processor

    assert not hasattr(data, "_describe") and not hasattr(processor, "_describe")
