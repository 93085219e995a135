"""The tiny SymmFlow pipelines the pipeline tests share (built from `tests/conftest.py`'s tiny components)."""

import pytest
from pipeline_helpers import CLS_CLASSES, LATENT_CLASSES, LATENT_NAMES, LATENT_PALETTE, PIXEL_SIZE, SEG_CLASSES, _quiet

import diffusers_symmflow  # noqa: F401  (the pipeline loader needs the component classes imported)
from diffusers_symmflow.pipelines import (
    SymmFlowPipeline,
)
from diffusers_symmflow.schedulers import SymmFlowScheduler


@pytest.fixture
def pixel_seg_pipe(tiny_pixel_unet):
    """Grayscale 8x8 images, 3-class one-hot masks, a model with a label time."""
    unet = tiny_pixel_unet(image_channels=1, label_channels=SEG_CLASSES, sample_size=PIXEL_SIZE, label_time=True)
    return _quiet(
        SymmFlowPipeline(
            unet=unet,
            scheduler=SymmFlowScheduler(),
            task="segmentation",
            label_encoding="onehot",
            num_classes=SEG_CLASSES,
            class_names=["bg", "a", "b"],
        )
    )


@pytest.fixture
def pixel_cls_pipe(tiny_pixel_unet):
    """RGB 8x8 images, the paper's scalar class code, 4 classes, a model without a label time (joint only)."""
    unet = tiny_pixel_unet(image_channels=3, label_channels=1, sample_size=PIXEL_SIZE, label_time=False, seed=1)
    return _quiet(
        SymmFlowPipeline(
            unet=unet,
            scheduler=SymmFlowScheduler(),
            task="classification",
            label_encoding="scalar",
            num_classes=CLS_CLASSES,
            class_names=["zero", "one", "two", "three"],
        )
    )


@pytest.fixture
def latent_seg_pipe(tiny_vae, tiny_latent_unet):
    """16x16 RGB images through a tiny VAE, 4-class palette masks, a model with a label time."""
    return _quiet(
        SymmFlowPipeline(
            unet=tiny_latent_unet(label_time=True),
            scheduler=SymmFlowScheduler(),
            vae=tiny_vae(),
            task="segmentation",
            label_encoding="palette",
            num_classes=LATENT_CLASSES,
            palette=LATENT_PALETTE,
            class_names=LATENT_NAMES,
            ignore_index=0,
            default_generation_steps=3,
            default_prediction_steps=2,
        )
    )


@pytest.fixture(params=["pixel", "latent"])
def seg_pipe(request):
    return request.getfixturevalue(f"{request.param}_seg_pipe")
