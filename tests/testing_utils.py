"""Helpers the tests share, imported by name (`from testing_utils import ...`): tiny, randomly initialised SymmFlow
components (CPU, no downloads), loading an example script as a module, resetting accelerate's singletons, and a
pickle that proves code ran. The fixtures built on them are in `conftest.py`; a test never imports `conftest`
itself, since with several conftest.py files (tests/pipelines/ has one) that name is ambiguous.
"""

import importlib.util
import os
import types

import torch
from accelerate.state import AcceleratorState, GradientState
from diffusers import AutoencoderKL, UNet2DConditionModel, UNet2DModel

from diffusers_symmflow.models import SymmFlowUNet2DConditionModel, symmflow_unet2d_config


EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def make_tiny_pixel_unet(
    image_channels: int = 1, label_channels: int = 1, sample_size: int = 8, label_time: bool = True, seed: int = 0
) -> UNet2DModel:
    """A pixel-space SymmFlow `UNet2DModel` (block_out_channels (32, 64)) for `sample_size` x `sample_size` images."""
    torch.manual_seed(seed)
    config = symmflow_unet2d_config(image_channels, label_channels, sample_size, label_time=label_time, preset="tiny")
    return UNet2DModel(**config).eval()


def make_tiny_vae(seed: int = 0) -> AutoencoderKL:
    """An `AutoencoderKL` with block_out_channels (32, 64) (downsampling by 2) and 4 latent channels."""
    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=16,
    ).eval()


def make_tiny_sd_unet(seed: int = 0) -> UNet2DConditionModel:
    """A Stable-Diffusion-shaped `UNet2DConditionModel` (block_out_channels (32, 64), 4 channels, cross-attention 32)."""
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        layers_per_block=1,
        sample_size=8,
        norm_num_groups=8,
        attention_head_dim=8,
    )


def make_tiny_latent_unet(label_time: bool = True, seed: int = 0) -> SymmFlowUNet2DConditionModel:
    """`make_tiny_sd_unet` widened to 4 + 4 channels for latent SymmFlow."""
    model = SymmFlowUNet2DConditionModel.from_stable_diffusion(make_tiny_sd_unet(seed), label_time=label_time)
    if label_time:
        # from_stable_diffusion zeroes the label-time embedding's last layer; give it weights so tests see its effect.
        torch.nn.init.normal_(model.class_embedding.linear_2.weight, std=0.02)
    return model.eval()


def load_example(relative_path: str) -> types.ModuleType:
    """Import a script under `examples/` (e.g. `"train_symmflow.py"`) as a module, without running its `__main__`."""
    name = os.path.splitext(os.path.basename(relative_path))[0]
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, relative_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reset_accelerate_state() -> None:
    """Forget accelerate's process-wide singletons, so the next in-process training run builds its own Accelerator."""
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


class PlantedPickle:
    """Unpickling it creates the directory `path`: proof that code from the file ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.mkdir, (self.path,)
