# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Pixel-space SymmFlow UNets (the paper's MNIST / CIFAR-10 setting): plain diffusers `UNet2DModel` configs."""

from diffusers import ModelMixin, SchedulerMixin, UNet2DModel  # noqa: F401  (looked up by name on load)


# Paper, Table 8 (MNIST column): 32 channels, depth 2, multipliers 1,2,2,2, attention at 16x16, 4 heads of 64.
PIXEL_UNET_PRESETS = {
    "mnist": {
        "block_out_channels": (32, 64, 64, 64),
        "layers_per_block": 2,
        "down_block_types": ("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        "attention_head_dim": 64,
        "dropout": 0.0,
    },
    # Paper, Table 8 (CIFAR-10 column): the MNIST layout with 256 base channels (256, 512, 512, 512).
    "cifar10": {
        "block_out_channels": (256, 512, 512, 512),
        "layers_per_block": 2,
        "down_block_types": ("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        "attention_head_dim": 64,
        "dropout": 0.0,
    },
    # Small enough to train on a 2-core laptop CPU in minutes (the bundled quickstart).
    "small": {
        "block_out_channels": (32, 64, 64),
        "layers_per_block": 1,
        "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        "attention_head_dim": 32,
        "norm_num_groups": 8,
    },
    # For tests.
    "tiny": {
        "block_out_channels": (32, 64),
        "layers_per_block": 1,
        "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
        "attention_head_dim": 8,
        "norm_num_groups": 8,
    },
}

# `small` at half the width where the resolution is full (16, 32, 64 channels, 0.69 M parameters): about half the
# compute per example on a CPU. The default of examples/train_symmflow.py, the 3-minute quickstart: in a fixed CPU
# time it sees twice the examples, which beats `small`'s extra width (examples/research_projects/readout_study/README.md, section 1d).
PIXEL_UNET_PRESETS["narrow"] = {**PIXEL_UNET_PRESETS["small"], "block_out_channels": (16, 32, 64)}


def symmflow_unet2d_config(
    image_channels: int,
    label_channels: int,
    sample_size: int,
    label_time: bool = True,
    preset: str = "small",
    **overrides,
) -> dict:
    """Config for a pixel-space SymmFlow `UNet2DModel`: input and output are `[image | label]` channels.

    Args:
        image_channels (`int`): 1 for MNIST, 3 for RGB.
        label_channels (`int`): the label codec's `num_channels` (1 for the paper's scalar class code, K for one-hot).
        sample_size (`int`): image side in pixels.
        label_time (`bool`, defaults to `True`): add the label's noise level as a second time input
            (`class_embed_type="timestep"`), which enables conditional sampling.
        preset (`str`, defaults to `"small"`): `"mnist"` / `"cifar10"` (paper Table 8; both downsample 3 times, so
            `sample_size` must be a multiple of 8: 32 for MNIST's 28x28 digits padded or resized), `"small"`,
            `"narrow"` (`small` at half the width: the CPU quickstart's) or `"tiny"` (tests).
        **overrides: any other `UNet2DModel` argument.

    Returns:
        A dict for `UNet2DModel.from_config` / `UNet2DModel(**config)`.
    """
    if preset not in PIXEL_UNET_PRESETS:
        raise ValueError(f"Unknown UNet preset {preset!r}; choose one of {sorted(PIXEL_UNET_PRESETS)}.")
    channels = image_channels + label_channels
    config = dict(PIXEL_UNET_PRESETS[preset])
    config.update(
        sample_size=sample_size,
        in_channels=channels,
        out_channels=channels,
        class_embed_type="timestep" if label_time else None,
    )
    config.update(overrides)
    return config
