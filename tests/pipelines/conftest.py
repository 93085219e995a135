"""The tiny SymmFlow pipelines the pipeline tests share (built from `tests/conftest.py`'s tiny components)."""

import pytest
from pipeline_helpers import LATENT_NAMES, tiny_cls_pipeline, tiny_latent_pipeline, tiny_seg_pipeline

import diffusers_symmflow  # noqa: F401  (the pipeline loader needs the component classes imported)


@pytest.fixture
def pixel_seg_pipe(tiny_pixel_unet):
    """Grayscale 8x8 images, 3-class one-hot masks, a model with a label time."""
    return tiny_seg_pipeline(tiny_pixel_unet, class_names=["bg", "a", "b"])


@pytest.fixture
def pixel_cls_pipe(tiny_pixel_unet):
    """RGB 8x8 images, the paper's scalar class code, 4 classes, a model without a label time (joint only)."""
    return tiny_cls_pipeline(tiny_pixel_unet, class_names=["zero", "one", "two", "three"])


@pytest.fixture
def latent_seg_pipe(tiny_vae, tiny_latent_unet):
    """16x16 RGB images through a tiny VAE, 4-class palette masks, a model with a label time."""
    return tiny_latent_pipeline(
        tiny_vae,
        tiny_latent_unet,
        class_names=LATENT_NAMES,
        ignore_index=0,
        default_generation_steps=3,
        default_prediction_steps=2,
    )


@pytest.fixture(params=["pixel", "latent"])
def seg_pipe(request):
    return request.getfixturevalue(f"{request.param}_seg_pipe")
