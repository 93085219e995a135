"""Helpers shared by the pipeline tests: the tiny pipelines' sizes and classes, builders of the three tiny pipelines
(pixel segmentation, pixel classification, latent segmentation) that each test file sets up its own way, random
inputs of a pipeline's size, and a recorder of model calls. The common pipelines are fixtures in `conftest.py`."""

import numpy as np
import torch

import diffusers_symmflow  # noqa: F401  (the pipeline loader needs the component classes imported)
from diffusers_symmflow.pipelines import SymmFlowPipeline
from diffusers_symmflow.schedulers import SymmFlowScheduler


PIXEL_SIZE = 8  # pixel-space tiny UNets
LATENT_IMAGE_SIZE = 16  # latent back-end: 16x16 images -> 8x8 latents (tiny VAE downsamples by 2)
SEG_CLASSES = 3
CLS_CLASSES = 4
LATENT_CLASSES = 4
LATENT_PALETTE = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]
LATENT_NAMES = ["background", "skin", "hair", "eyes"]


def _quiet(pipe: SymmFlowPipeline) -> SymmFlowPipeline:
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_seg_pipeline(
    tiny_pixel_unet, label_time: bool = True, scheduler: SymmFlowScheduler | None = None, **settings
) -> SymmFlowPipeline:
    """Grayscale 8x8 images, 3-class one-hot masks; `settings` go to the pipeline (e.g. `background_class`)."""
    unet = tiny_pixel_unet(image_channels=1, label_channels=SEG_CLASSES, sample_size=PIXEL_SIZE, label_time=label_time)
    return _quiet(
        SymmFlowPipeline(unet=unet, scheduler=scheduler or SymmFlowScheduler(), num_classes=SEG_CLASSES, **settings)
    )


def tiny_cls_pipeline(tiny_pixel_unet, label_time: bool = False, **settings) -> SymmFlowPipeline:
    """RGB 8x8 images, the paper's scalar class code, 4 classes (by default without a label time: joint only)."""
    unet = tiny_pixel_unet(image_channels=3, label_channels=1, sample_size=PIXEL_SIZE, label_time=label_time, seed=1)
    return _quiet(
        SymmFlowPipeline(
            unet=unet,
            scheduler=SymmFlowScheduler(),
            task="classification",
            label_encoding="scalar",
            num_classes=CLS_CLASSES,
            **settings,
        )
    )


def tiny_latent_pipeline(
    tiny_vae, tiny_latent_unet, num_classes: int = LATENT_CLASSES, **settings
) -> SymmFlowPipeline:
    """16x16 RGB images through a tiny VAE, palette masks of the first `num_classes` colours, a label time."""
    return _quiet(
        SymmFlowPipeline(
            unet=tiny_latent_unet(label_time=True),
            scheduler=SymmFlowScheduler(),
            vae=tiny_vae(),
            task="segmentation",
            label_encoding="palette",
            num_classes=num_classes,
            palette=LATENT_PALETTE[:num_classes],
            **settings,
        )
    )


def _size(pipe) -> int:
    return LATENT_IMAGE_SIZE if pipe.vae is not None else PIXEL_SIZE


def _masks(pipe, batch=1, seed=0) -> np.ndarray:
    """Random class-id masks `[batch, H, W]` of the pipeline's size."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, pipe.config.num_classes, size=(batch, _size(pipe), _size(pipe)))


def _images(pipe, batch=1, seed=0) -> torch.Tensor:
    """Random images `[batch, C, H, W]` in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, pipe.num_pixel_channels, _size(pipe), _size(pipe), generator=generator)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _count_model_calls(pipe) -> list:
    calls = []
    modules = [pipe.unet] + ([pipe.vae] if pipe.vae is not None else [])
    for module in modules:
        module.register_forward_pre_hook(lambda module, args, calls=calls: calls.append(type(module).__name__))
    if pipe.vae is not None:
        # AutoencoderKL.encode / decode do not go through forward.
        for name in ("encode", "decode"):
            original = getattr(pipe.vae, name)

            def wrapped(*args, _original=original, _name=name, **kwargs):
                calls.append(f"vae.{_name}")
                return _original(*args, **kwargs)

            setattr(pipe.vae, name, wrapped)
    return calls
