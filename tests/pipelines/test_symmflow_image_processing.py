"""Image and mask inputs (pipelines/symmflow/symmflow_image_processing.py): every accepted format of an image or a
mask gives the same pipeline result."""

import numpy as np
import PIL.Image
import pytest
import torch
from pipeline_helpers import PIXEL_SIZE, _gen, _images, _masks

import diffusers_symmflow  # noqa: F401  (the pipeline loader needs the component classes imported)


# ----------------------------------------------------------------------------------------------------------------
# Input formats
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*taken as already in:FutureWarning")  # the [-1, 1] tensor, on purpose
def test_image_formats_agree(latent_seg_pipe, pixel_seg_pipe):
    for pipe in (latent_seg_pipe, pixel_seg_pipe):
        pixels = (_images(pipe) * 255).round().to(torch.uint8)  # [1, C, H, W]
        as_hwc = pixels[0].permute(1, 2, 0).numpy()
        pil = PIL.Image.fromarray(as_hwc[..., 0] if as_hwc.shape[-1] == 1 else as_hwc)
        inputs = [
            pil,
            [pil],
            as_hwc,
            as_hwc[None].astype(np.float32) / 255,
            pixels.float() / 255,
            pixels.float() / 127.5 - 1,
            pixels[0],
        ]
        reference = pipe.segment(pil, generator=_gen(0)).scores
        for image in inputs[1:]:
            np.testing.assert_allclose(pipe.segment(image, generator=_gen(0)).scores, reference, atol=1e-5)


def test_rgb_pil_is_converted_for_a_grayscale_model(pixel_seg_pipe):
    pipe = pixel_seg_pipe
    rgb = PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (PIXEL_SIZE, PIXEL_SIZE, 3), dtype=np.uint8))
    from_rgb = pipe.segment(rgb, generator=_gen(0)).scores
    from_gray = pipe.segment(rgb.convert("L"), generator=_gen(0)).scores
    np.testing.assert_array_equal(from_rgb, from_gray)


def test_mask_formats_agree(seg_pipe):
    pipe = seg_pipe
    ids = _masks(pipe)[0]
    colors = np.asarray(pipe.config.palette, dtype=np.uint8)[ids]
    palette_image = PIL.Image.fromarray(ids.astype(np.uint8))
    palette_image.putpalette(np.asarray(pipe.config.palette, dtype=np.uint8).reshape(-1).tolist())
    inputs = [
        ids,
        ids[None],
        torch.from_numpy(ids),
        torch.from_numpy(ids)[None, None],
        PIL.Image.fromarray(ids.astype(np.uint8), mode="L"),
        palette_image,
        colors,
        PIL.Image.fromarray(colors),
        [ids],
    ]
    reference = pipe(mask=inputs[0], num_inference_steps=1, generator=_gen(0), output_type="np").images
    for mask in inputs[1:]:
        images = pipe(mask=mask, num_inference_steps=1, generator=_gen(0), output_type="np").images
        np.testing.assert_array_equal(images, reference)
