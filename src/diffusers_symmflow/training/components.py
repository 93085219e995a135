# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The models a SymmFlow training run builds: a pixel-space `UNet2DModel` from a preset or a JSON file, or a Stable
Diffusion VAE with its UNet widened for `[image | label]`, LoRA adapters on it, and the plain model they merge into.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel, UNet2DModel

from ..models import PIXEL_UNET_PRESETS, SymmFlowUNet2DConditionModel, symmflow_unet2d_config


logger = logging.getLogger(__name__)

LORA_TARGET_MODULES = ["to_k", "to_q", "to_v", "to_out.0"]
"""The attention projections that get LoRA adapters."""
# The UNet's own layers that SymmFlow widened or added: trained in full beside the adapters.
_LORA_FULLY_TRAINED = ("conv_in", "conv_out", "class_embedding")
MANAGED_UNET_KEYS = ("in_channels", "out_channels", "sample_size", "class_embed_type")
"""`UNet2DModel` arguments `load_pixel_unet` derives from the data and the label time; a JSON config may not set
them."""


def check_unet_config(unet_config: str) -> None:
    """Raise unless `unet_config` names a pixel UNet preset (`PIXEL_UNET_PRESETS`) or an existing JSON file.

    Raises:
        ValueError: naming `unet_config` and the presets.
    """
    if unet_config not in PIXEL_UNET_PRESETS and not os.path.isfile(unet_config):
        raise ValueError(
            f"`unet_config` {unet_config!r} is neither a preset ({sorted(PIXEL_UNET_PRESETS)}) nor a JSON file."
        )


def load_pixel_unet(
    unet_config: str, image_channels: int, label_channels: int, resolution: int, label_time: bool
) -> UNet2DModel:
    """A pixel-space `UNet2DModel` for `[image | label]`, freshly initialised.

    Args:
        unet_config (`str`): a preset of `symmflow_unet2d_config` (`PIXEL_UNET_PRESETS`), or a JSON file of
            `UNet2DModel` arguments overriding the `"small"` preset (keys starting with `_` are ignored; the
            `MANAGED_UNET_KEYS` may not appear).
        image_channels (`int`): 1 (grayscale) or 3 (RGB).
        label_channels (`int`): the label codec's `num_channels`.
        resolution (`int`): the side of the square training images; a multiple of the UNet's downsampling factor.
        label_time (`bool`): add the label's noise level as a second time input (the objective's
            `needs_label_time`).

    Returns:
        `UNet2DModel` with `image_channels + label_channels` input and output channels.

    Raises:
        ValueError: if `unet_config` is neither a preset nor a file, if its file sets a managed key, or if the UNet
            cannot take `resolution` (a skip-connection shape mismatch mid-forward otherwise).
    """
    check_unet_config(unet_config)
    preset, overrides = unet_config, {}
    if preset not in PIXEL_UNET_PRESETS:
        with open(preset, encoding="utf-8") as file:
            overrides = {key: value for key, value in json.load(file).items() if not key.startswith("_")}
        conflicting = sorted(set(overrides) & set(MANAGED_UNET_KEYS))
        if conflicting:
            raise ValueError(
                f"`unet_config` {preset!r} sets {conflicting}, which are derived from the data and `label_time`; "
                "remove them."
            )
        preset = "small"
    config = symmflow_unet2d_config(
        image_channels, label_channels, resolution, label_time=label_time, preset=preset, **overrides
    )
    factor = 2 ** (len(config["block_out_channels"]) - 1)
    if resolution % factor:
        # Otherwise UNet2DModel fails mid-forward with a skip-connection shape mismatch (e.g. 28x28 MNIST).
        raise ValueError(
            f"`unet_config` {unet_config!r} downsamples {len(config['block_out_channels']) - 1} times, so the "
            f"resolution must be a multiple of {factor}; got {resolution}. Pass `resolution` "
            f"{math.ceil(resolution / factor) * factor} (28x28 MNIST: 32, which the authors resize it to)."
        )
    return UNet2DModel(**config)


def load_latent_models(
    pretrained_model_name_or_path: str,
    label_time: bool,
    vae_name_or_path: str | None = None,
    revision: str | None = None,
    variant: str | None = None,
    conv_in_init: str = "halve",
) -> tuple[AutoencoderKL, SymmFlowUNet2DConditionModel]:
    """The Stable Diffusion VAE and its UNet widened for SymmFlow, with the empty prompt's embedding when the model
    has a text encoder and tokenizer (a zero embedding otherwise, with a warning).

    Args:
        pretrained_model_name_or_path (`str`): a Stable Diffusion repo or directory (`vae/`, `unet/`, optionally
            `text_encoder/` and `tokenizer/`).
        label_time (`bool`): as in `load_pixel_unet`.
        vae_name_or_path (`str`, *optional*): a VAE repo or directory to use instead of the model's `vae/` (the
            paper: `stabilityai/sd-vae-ft-mse` with the SD 2.1 UNet).
        revision (`str`, *optional*), variant (`str`, *optional*): of the pretrained model on the Hub.
        conv_in_init (`str`, defaults to `"halve"`): how `conv_in` is widened, see
            `SymmFlowUNet2DConditionModel.from_stable_diffusion`.

    Returns:
        `(vae, unet)`: the `AutoencoderKL` and the `SymmFlowUNet2DConditionModel`.
    """
    from transformers import AutoTokenizer, CLIPTextModel

    source = pretrained_model_name_or_path
    if vae_name_or_path is not None:
        vae = AutoencoderKL.from_pretrained(vae_name_or_path)
    else:
        vae = AutoencoderKL.from_pretrained(source, subfolder="vae", revision=revision, variant=variant)
    sd_unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", revision=revision, variant=variant)
    text_encoder = tokenizer = None
    local = os.path.isdir(source)
    if not local or all(os.path.isdir(os.path.join(source, name)) for name in ("text_encoder", "tokenizer")):
        try:
            text_encoder = CLIPTextModel.from_pretrained(source, subfolder="text_encoder", revision=revision)
            tokenizer = AutoTokenizer.from_pretrained(source, subfolder="tokenizer", revision=revision)
        except OSError as error:
            text_encoder = tokenizer = None
            logger.warning(f"No text encoder / tokenizer in {source} ({error}); using a zero empty-prompt embedding.")
    else:
        logger.warning(f"{source} has no text_encoder/ and tokenizer/; using a zero empty-prompt embedding.")
    unet = SymmFlowUNet2DConditionModel.from_stable_diffusion(
        sd_unet,
        label_time=label_time,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        conv_in_init=conv_in_init,
    )
    return vae, unet


def add_lora(unet: torch.nn.Module, rank: int, alpha: int | None = None) -> None:
    """Freeze `unet`, add peft LoRA adapters to its attention projections (`LORA_TARGET_MODULES`), and unfreeze the
    layers SymmFlow widened or added (`conv_in`, `conv_out`, the label-time embedding), which no adapter covers.

    Args:
        unet (`torch.nn.Module`): a diffusers UNet (e.g. from `load_latent_models`); changed in place.
        rank (`int`): the adapters' rank.
        alpha (`int`, *optional*): LoRA alpha; defaults to `rank`.
    """
    from peft import LoraConfig

    unet.requires_grad_(False)
    unet.add_adapter(
        LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights="gaussian", target_modules=LORA_TARGET_MODULES)
    )
    for name in _LORA_FULLY_TRAINED:
        module = getattr(unet, name, None)
        if module is not None:
            module.requires_grad_(True)


def unet_without_adapters(unet: torch.nn.Module) -> torch.nn.Module:
    """A copy of `unet` with its peft LoRA adapters merged into the base weights and removed.

    The copy is a plain diffusers model (its state dict has no LoRA keys), so a saved pipeline loads without peft.
    A model without adapters is returned as is.
    """
    if not getattr(unet, "_hf_peft_config_loaded", False):
        return unet
    merged = copy.deepcopy(unet)
    merged.fuse_lora(lora_scale=1.0)
    merged.unload_lora()
    return merged
