# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""`SymmFlowPipeline`: one SymmFlow model generates images from labels and segments or classifies images.

The model sees the joint state `[image | label]` on the channel axis and predicts the velocity `[v_x | v_y]`.
Integrated forward (t: 0 -> 1) from `[noise | clean label code]` it generates an image; integrated in reverse
(t: 1 -> 0) from `[image | noise]` it predicts the label (paper eq. 8), often in one step. The time convention is the
scheduler's (see `schedulers/scheduling_symmflow.py`).

Two back-ends share this pipeline:

* pixel space (`vae=None`, a diffusers `UNet2DModel`; the paper's MNIST / CIFAR-10 setting): the label side is the
  codec's code itself (a constant class map, a one-hot map or palette colours) at the image's resolution;
* latent space (`AutoencoderKL` + `SymmFlowUNet2DConditionModel`; the paper's CelebAMask-HQ / COCO-Stuff setting):
  images and palette-coloured masks both pass through the VAE, so each side has `vae.config.latent_channels`
  channels. Only palette-encoded segmentation runs here.
"""

import json
import math
import numbers
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import PIL.Image
import torch
from diffusers import AutoencoderKL, DiffusionPipeline, ModelMixin, SchedulerMixin  # noqa: F401  (loader looks up by name)
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from ..inputs import check_finite, check_positive_int
from ..labels import LabelCodec, LabelDecoding
from ..models import LabelHead, check_label_prediction, predict_velocity, supports_label_time
from ..schedulers import SymmFlowScheduler
from ..schedulers.scheduling_symmflow import SAMPLING_MODES, check_inference_steps
from .image_processor_symmflow import SymmFlowImageProcessor


OUTPUT_TYPES = ("pil", "np", "pt", "latent")
"""`"latent"` (diffusers' convention) returns the state in model space, neither decoded nor post-processed."""
CUSTOM_PIPELINE_MODULE = "pipeline_symmflow"
"""The module `save_pretrained` writes beside `model_index.json`, which names the class as `[module, class]`, so that
`diffusers.DiffusionPipeline.from_pretrained(path, trust_remote_code=True)` finds `SymmFlowPipeline` through diffusers'
custom-pipeline mechanism."""
_CUSTOM_PIPELINE_CODE = '''"""Loads SymmFlowPipeline for `DiffusionPipeline.from_pretrained(..., trust_remote_code=True)`.

diffusers runs this file because model_index.json names the pipeline class as ["pipeline_symmflow",
"SymmFlowPipeline"]. It only imports the pipeline (and, with it, the SymmFlow scheduler and UNet classes that the
components name) from the installed diffusers-symmflow package; it holds no code of its own.
"""

try:
    from diffusers_symmflow import SymmFlowPipeline  # noqa: F401
except ImportError as error:
    raise ImportError(
        "This pipeline is a SymmFlowPipeline, which needs the diffusers-symmflow package: install it (`pip install "
        "diffusers-symmflow`, or `pip install -e .` in its repository), then load again."
    ) from error
'''
PIXEL_IMAGE_CHANNELS = (1, 3)
"""Image channels of a pixel-space model: grayscale or RGB (what the training data and PIL images hold)."""
LABEL_TIME_MODEL = (
    "a UNet that takes the label's noise level as a second time input (config.class_embed_type='timestep': "
    "`symmflow_unet2d_config(..., label_time=True)` or `SymmFlowUNet2DConditionModel.from_stable_diffusion(..., "
    "label_time=True)`) trained with `SymmFlowObjective(label_time='mixed')` or 'independent' "
    "(`examples/train_symmflow.py --label_time mixed`; its default, the paper's 'diagonal', trains none)"
)
"""What to train for the calls that need a label time (`invert`, `edit`, `guidance_scale != 1`), for their errors."""
LABEL_SPACE_KEY = "_symmflow_label_space"
"""The UNet config entry where `save_pretrained` records the settings the UNet's channels were trained for (task,
label code, classes, label head, image channels, timestep scale), so a pipeline built around it, from an edited
`model_index.json` or scheduler config, is refused with what disagrees instead of giving wrong outputs."""
OBJECTIVE_CONFIG_NAME = "symmflow_objective.json"
"""`SymmFlowObjective.config_name`: the training objective `examples/train_symmflow.py` saves beside the pipeline."""


@dataclass
class SymmFlowGenerationOutput(BaseOutput):
    """Output of `SymmFlowPipeline.__call__`.

    Args:
        images (`list[PIL.Image.Image]`, `np.ndarray` or `torch.Tensor`):
            The generated images: PIL images (`"L"` for one channel, `"RGB"` for three), a float32 array
            `[B, H, W, C]` in [0, 1], or a float tensor `[B, C, H, W]` in [0, 1]. With `output_type="latent"`, the
            image side of the final state, `[B, num_image_channels, h, w]` in model space, not decoded: VAE latents
            times `scaling_factor` for latent models, the unclamped image in about [-1, 1] for pixel models.
    """

    images: list[PIL.Image.Image] | np.ndarray | torch.Tensor


@dataclass
class SymmFlowSegmentationOutput(BaseOutput):
    """Output of `SymmFlowPipeline.segment`.

    With `output_type="latent"`, `masks` is the label side of the final state, `[B * num_samples, num_label_channels,
    h, w]` in model space (the samples of image `i` in rows `i * num_samples` to `(i + 1) * num_samples - 1`), not
    decoded; `colored_masks`, `scores` and `uncertainty` are `None`.

    Args:
        masks: class ids, int64 `np.ndarray` / `torch.Tensor` `[B, H, W]`, or a list of `"P"` PIL images whose pixel
            values are the class ids (and whose palette is the model's, so they display coloured).
        colored_masks: the masks in the model's palette colours, uint8 `np.ndarray` `[B, H, W, 3]`, uint8
            `torch.Tensor` `[B, 3, H, W]`, or a list of `"RGB"` PIL images.
        scores (`np.ndarray` or `torch.Tensor` of shape `[B, K, H, W]`, float32): per-class probabilities that sum
            to 1 over `K`. With `num_samples == 1` they come from the label codec; with `num_samples > 1` they are
            the vote frequencies of the samples (a pixel where some samples voted for an `ignore_index` that has a
            code of its own sums to less than 1). A `torch.Tensor` for `output_type="pt"`, an array otherwise.
        uncertainty (`np.ndarray`, `torch.Tensor` or `None`): with `num_samples > 1`, float32 `[B, H, W]`, the entropy
            in nats of the per-pixel vote frequencies: 0 where all samples agree, at most `log(min(num_samples, K))`.
            `None` when `num_samples == 1`.
    """

    masks: list[PIL.Image.Image] | np.ndarray | torch.Tensor
    colored_masks: list[PIL.Image.Image] | np.ndarray | torch.Tensor | None
    scores: np.ndarray | torch.Tensor | None
    uncertainty: np.ndarray | torch.Tensor | None


@dataclass
class SymmFlowClassificationOutput(BaseOutput):
    """Output of `SymmFlowPipeline.classify`.

    Args:
        labels (`torch.Tensor` of shape `[B]`, int64): predicted class ids.
        scores (`torch.Tensor` of shape `[B, K]`, float32): per-class probabilities (from the label codec, averaged
            over the samples when `num_samples > 1`); `labels` is their argmax.
        class_names (`list[str]` or `None`): the names of the predicted classes, when the model has class names.
    """

    labels: torch.Tensor
    scores: torch.Tensor
    class_names: list[str] | None


@dataclass
class SymmFlowInversionOutput(BaseOutput):
    """Output of `SymmFlowPipeline.invert`.

    Args:
        latents (`torch.Tensor` of shape `[B, num_image_channels, h, w]`): the image side after integrating the
            generation ODE backwards, in model space (VAE latents for latent models). With `strength=1` it is the
            noise that regenerates the image: `pipe(mask=mask, latents=latents)` with the same `num_inference_steps`.
        noise_level (`float`): the image's noise level the inversion reached (1.0 with `strength=1`).
        source_masks (`torch.Tensor` of shape `[B, H, W]`, int64): the masks the image was inverted with (given, or
            predicted by `segment`).
    """

    latents: torch.Tensor
    noise_level: float
    source_masks: torch.Tensor


@dataclass
class SymmFlowEditOutput(BaseOutput):
    """Output of `SymmFlowPipeline.edit`.

    Args:
        images: the edited images, as in `SymmFlowGenerationOutput`.
        source_masks (`torch.Tensor` of shape `[B, H, W]`, int64): the masks the images were inverted with (given,
            or predicted by `segment`).
    """

    images: list[PIL.Image.Image] | np.ndarray | torch.Tensor
    source_masks: torch.Tensor


class SymmFlowPipeline(DiffusionPipeline):
    """Image generation from semantic labels, segmentation and classification with one Symmetrical Flow Matching model.

    * `pipe(mask=...)` / `pipe(class_labels=[3, 7])`: generate images from masks or class ids (t: 0 -> 1).
    * `pipe.segment(image)`: class-id masks, colourised masks and per-class scores (t: 1 -> 0).
    * `pipe.classify(image)`: class ids and per-class scores (t: 1 -> 0).
    * `pipe.invert(image, mask)` / `pipe.edit(image, new_mask)`: integrate an image back to its noise with its mask
      held clean, then regenerate it with another mask (conditional models only).

    Each call takes `sampling_mode`: `"joint"` is the paper's ODE, where the given side turns into noise while the
    other side is generated; `"conditional"` holds the given side at its clean end (noise level 0) and integrates only
    the other side, which needs a model trained with a label time input (`supports_conditional_sampling`). `None`
    picks `"conditional"` when the model supports it and `"joint"` otherwise.

    This model inherits from `DiffusionPipeline` (saving, loading, `.to(...)`, offloading, progress bars).

    Args:
        unet (`UNet2DModel` or `SymmFlowUNet2DConditionModel`):
            The velocity model, with `in_channels == out_channels ==` image channels + label channels (in model space).
        scheduler (`SymmFlowScheduler`): the ODE solver.
        vae (`AutoencoderKL`, *optional*):
            For latent-space models: encodes images and palette-coloured masks, decodes generated latents.
        task (`str`, defaults to `"segmentation"`): `"segmentation"` (pixel-level labels) or `"classification"`.
        label_encoding (`str`, defaults to `"onehot"`): how class ids become the label side, see `LabelCodec`:
            `"onehot"`, `"scalar"` (the authors' classification code) or `"palette"` (RGB colours; required with a VAE).
        num_classes (`int`, defaults to 2): number of classes `K`.
        palette (*optional*): RGB colours (0-255) used to colourise masks and by the `"palette"` encoding: `K`
            colours, plus one for unlabelled pixels when `ignore_index` lies outside `[0, K)`; anything
            `resolve_palette` takes (`None` generates one, `"celebamask-hq"`...). The config stores the resolved
            colours.
        class_names (`list[str]`, *optional*): one name per class.
        ignore_index (`int`, *optional*): the id metrics ignore. Inside `[0, K)` it is an ordinary class for the
            model (CelebAMask-HQ's background); outside (e.g. 255) it has a code of its own, so masks may contain
            it and predictions may return it (see `LabelCodec`).
        default_generation_steps (`int`, defaults to 25): steps for `__call__` when `num_inference_steps` is `None`
            (the paper generates with 25 Euler steps).
        default_prediction_steps (`int`, defaults to 1): steps for `segment` / `classify` when `num_inference_steps`
            is `None`. The paper reports both ends: one step classifies best on MNIST (99.3%, 25 steps 99.6%) and
            about as well as 25 on CIFAR-10 (88.2% vs 90.6%, Table 6); segmentation gains from a few steps (Table 5:
            CelebAMask-HQ 65.3 mIoU at 1 step, 69.3 at 25; COCO-Stuff 29.3 and 39.6), and its figures use 25.
        background_class (`int`, *optional*): segmentation models only: the class id of "no object". With it, a
            segmentation model also classifies images that show one object (the bundled MNIST digits: each stroke
            pixel carries its digit's class): `classify` returns the object class covering the most pixels.
        beta (`float`, *optional*): the label dequantization width the model was trained with (8-bit units, paper
            eq. 9). The scalar class code is `+-beta / 2` (the authors' code; `+-1` when `None`); see `LabelCodec`.
        label_prediction (`str`, defaults to `"velocity"`): what the model's label channels predict: `"velocity"`
            (the paper's) or `"logits"` (class logits; one-hot codes only), see `LabelHead`. Saved with the pipeline;
            `examples/train_symmflow.py` trains one-hot models with `"logits"` by default.
        label_input (`str`, defaults to `"raw"`): how the noisy label enters the model: `"raw"` (the paper's) or
            `"gated"` (scaled by `1 - s`), see `LabelHead`.
    """

    model_cpu_offload_seq = "vae->unet"
    _optional_components = ["vae"]
    _callback_tensor_inputs = ["latents", "image_latents", "label_latents", "pred_original_sample"]

    def __init__(
        self,
        unet: ModelMixin,
        scheduler: SymmFlowScheduler,
        vae: AutoencoderKL | None = None,
        task: str = "segmentation",
        label_encoding: str = "onehot",
        num_classes: int = 2,
        palette: list[list[int]] | np.ndarray | None = None,
        class_names: list[str] | None = None,
        ignore_index: int | None = None,
        default_generation_steps: int = 25,
        default_prediction_steps: int = 1,
        background_class: int | None = None,
        beta: float | None = None,
        label_prediction: str = "velocity",
        label_input: str = "raw",
    ):
        super().__init__()
        label_codec = LabelCodec(
            task=task,
            encoding=label_encoding,
            num_classes=num_classes,
            palette=palette,
            ignore_index=ignore_index,
            class_names=class_names,
            beta=beta,
        )
        if vae is not None and (task != "segmentation" or label_encoding != "palette"):
            raise ValueError(
                f"A latent-space (VAE) SymmFlow model passes masks through the VAE as palette-coloured images, so it "
                f"needs task='segmentation' and label_encoding='palette'; got task={task!r}, "
                f"label_encoding={label_encoding!r}."
            )
        for name, steps in (
            ("default_generation_steps", default_generation_steps),
            ("default_prediction_steps", default_prediction_steps),
        ):
            check_positive_int(name, steps)
        if background_class is not None:
            if task != "segmentation":
                raise ValueError("`background_class` applies to segmentation models only; a classifier has no background.")
            if isinstance(background_class, bool) or not isinstance(background_class, int) or not (
                0 <= background_class < num_classes
            ):
                raise ValueError(
                    f"`background_class` must be a class id in [0, {num_classes}), got {background_class!r}."
                )

        check_label_prediction(label_prediction, label_encoding)

        self.register_modules(unet=unet, scheduler=scheduler, vae=vae)
        self.register_to_config(
            task=task,
            label_encoding=label_encoding,
            num_classes=num_classes,
            # The resolved colours, so a reloaded pipeline paints with exactly these even if the generator changes.
            palette=label_codec.palette_array.tolist(),
            class_names=list(class_names) if class_names is not None else None,
            ignore_index=ignore_index,
            default_generation_steps=default_generation_steps,
            default_prediction_steps=default_prediction_steps,
            background_class=background_class,
            beta=beta,
            label_prediction=label_prediction,
            label_input=label_input,
        )
        self.label_codec = label_codec
        self.vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else 1
        self.image_processor = SymmFlowImageProcessor(vae_scale_factor=self.vae_scale_factor)
        self._check_label_space()
        self._check_channels()
        self.label_head = LabelHead(
            num_image_channels=self.num_image_channels,
            prediction=label_prediction,
            input=label_input,
            num_train_timesteps=scheduler.config.num_train_timesteps,
        )

    @classmethod
    def from_label_codec(
        cls,
        label_codec: LabelCodec,
        unet: ModelMixin,
        scheduler: SymmFlowScheduler,
        vae: AutoencoderKL | None = None,
        **kwargs,
    ) -> "SymmFlowPipeline":
        """A pipeline around `label_codec`, the codec the training data was read with (`SymmFlowData.label_codec`).

        The label arguments of the constructor (`task`, `label_encoding`, `num_classes`, `palette`, `class_names`,
        `ignore_index`, `beta`) come from `label_codec.config`, so they are saved and reloaded as usual, and
        `pipe.label_codec` is `label_codec` itself: a training batch and a segmentation call go through one codec.

        Args:
            label_codec (`LabelCodec`): the label space and code.
            unet, scheduler, vae: as in the constructor.
            kwargs: the constructor's other settings (`background_class`, `label_prediction`, `label_input`,
                `default_generation_steps`, `default_prediction_steps`).

        Returns:
            `SymmFlowPipeline`.
        """
        config = label_codec.config
        pipe = cls(
            unet=unet,
            scheduler=scheduler,
            vae=vae,
            task=config.task,
            label_encoding=config.encoding,
            num_classes=config.num_classes,
            palette=config.palette,
            class_names=config.class_names,
            ignore_index=config.ignore_index,
            beta=config.beta,
            **kwargs,
        )
        pipe.label_codec = label_codec
        return pipe

    # ------------------------------------------------------------------------------------------------------------
    # Saving and loading through plain diffusers
    # ------------------------------------------------------------------------------------------------------------

    def label_space(self) -> dict:
        """The settings the UNet's channels mean something under; `save_pretrained` records them with the UNet.

        Returns:
            `dict` (JSON values): `task`, `label_encoding`, `num_classes`, `ignore_index`, `background_class`, `beta`,
            `label_prediction`, `label_input`, `image_channels` (of the images users pass), `num_train_timesteps`
            (the scheduler's timestep scale), and `palette` for the `"palette"` code (the colours are the code).
        """
        config = self.config
        space = {key: config[key] for key in (
            "task", "label_encoding", "num_classes", "ignore_index", "background_class", "beta", "label_prediction",
            "label_input",
        )}
        space["image_channels"] = self.num_pixel_channels
        space["num_train_timesteps"] = self.scheduler.config.num_train_timesteps
        if config.label_encoding == "palette":
            space["palette"] = config.palette
        return json.loads(json.dumps(space))  # JSON values, as a reloaded config holds them

    def _check_label_space(self) -> None:
        recorded = self.unet.config.get(LABEL_SPACE_KEY)
        if not recorded:
            return  # a UNet never saved in a SymmFlow pipeline (or saved before the record existed)
        current = self.label_space()
        differ = [key for key in recorded if recorded[key] != current.get(key)]
        if differ:
            found = [f"`{key}` is {current.get(key)!r} but the UNet was saved with {recorded[key]!r}" for key in differ]
            raise ValueError(
                "The pipeline's settings disagree with the ones its UNet was trained and saved with: "
                + "; ".join(found)
                + ". A config edited after saving (model_index.json, or the scheduler's) would give wrong outputs "
                "without an error; restore the saved values. To train this UNet for other settings, clear the record "
                f"first: `unet.register_to_config({LABEL_SPACE_KEY}=None)`."
            )

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """`DiffusionPipeline.save_pretrained`, recording `label_space()` in the UNet's config (`LABEL_SPACE_KEY`).

        A pipeline later built around the saved UNet with other settings is refused, naming what disagrees.
        """
        self.unet.register_to_config(**{LABEL_SPACE_KEY: self.label_space()})
        super().save_pretrained(save_directory, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "SymmFlowPipeline":
        """`DiffusionPipeline.from_pretrained`, then a check against the training objective saved beside the pipeline.

        When the folder holds `symmflow_objective.json` (what `examples/train_symmflow.py` saves), its
        `label_prediction`, `num_train_timesteps` and `label_time` (whether the model needs a label time input) must
        agree with the loaded pipeline's `label_prediction`, scheduler and UNet; a `ValueError` names what does not.
        Pipelines saved before `save_pretrained` recorded `label_space()` are checked this way too.
        """
        pipe = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        objective_file = os.path.join(os.fspath(pretrained_model_name_or_path), OBJECTIVE_CONFIG_NAME)
        if os.path.isfile(objective_file):
            with open(objective_file, encoding="utf-8") as file:
                pipe.check_objective_config(json.load(file))
        return pipe

    def check_objective_config(self, objective_config: dict) -> None:
        """Raise a `ValueError` naming each setting of the training objective's config that this pipeline contradicts.

        Args:
            objective_config (`dict`): a `SymmFlowObjective` config (`symmflow_objective.json`).
        """
        needs_label_time = objective_config.get("label_time", "diagonal") != "diagonal"
        checks = [
            ("label_prediction", objective_config.get("label_prediction"), self.config.label_prediction,
             "the pipeline's `label_prediction`"),
            ("num_train_timesteps", objective_config.get("num_train_timesteps"),
             self.scheduler.config.num_train_timesteps, "the scheduler's `num_train_timesteps`"),
            ("label_time", needs_label_time, self.supports_conditional_sampling,
             "whether the UNet takes a label time input (`class_embed_type='timestep'`)"),
        ]
        differ = [
            f"the objective's `{key}` is {objective_config.get(key)!r} but {what} is {ours!r}"
            for key, theirs, ours, what in checks
            if theirs is not None and theirs != ours
        ]
        if differ:
            raise ValueError(
                f"The pipeline disagrees with the training objective saved beside it ({OBJECTIVE_CONFIG_NAME}): "
                + "; ".join(differ)
                + ". A config edited after saving would give wrong outputs; restore the saved values."
            )

    def save_config(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """Write `model_index.json` naming this class `[CUSTOM_PIPELINE_MODULE, class name]`, and that module beside it.

        `save_pretrained` calls this, so a saved (or pushed) pipeline loads both with `SymmFlowPipeline.from_pretrained
        (path)` and with `diffusers.DiffusionPipeline.from_pretrained(path, trust_remote_code=True)` (diffusers'
        custom-pipeline mechanism; the module only imports this class from the installed package).
        """
        if kwargs.get("push_to_hub"):
            raise ValueError("Push a SymmFlowPipeline with `save_pretrained(..., push_to_hub=True)`.")
        super().save_config(save_directory, **kwargs)
        config_file = os.path.join(save_directory, self.config_name)
        with open(config_file, encoding="utf-8") as file:
            config = json.load(file)
        config["_class_name"] = [CUSTOM_PIPELINE_MODULE, self.__class__.__name__]
        with open(config_file, "w", encoding="utf-8") as file:
            file.write(json.dumps(config, indent=2, sort_keys=True) + "\n")
        with open(os.path.join(save_directory, f"{CUSTOM_PIPELINE_MODULE}.py"), "w", encoding="utf-8") as file:
            file.write(_CUSTOM_PIPELINE_CODE)

    @classmethod
    def _dict_from_json_file(cls, json_file: str | os.PathLike) -> dict:
        # Loading through this class needs no remote code: read `[module, "SymmFlowPipeline"]` as this class's own
        # name, or diffusers would insist on running the module beside model_index.json (trust_remote_code=True).
        config = super()._dict_from_json_file(json_file)
        name = config.get("_class_name")
        if isinstance(name, (list, tuple)) and len(name) == 2 and name[0] == CUSTOM_PIPELINE_MODULE:
            config["_class_name"] = name[1]
        return config

    # ------------------------------------------------------------------------------------------------------------
    # Model-space layout
    # ------------------------------------------------------------------------------------------------------------

    @property
    def num_image_channels(self) -> int:
        """Channels of the image part of the model's input (`vae.config.latent_channels` for latent models)."""
        if self.vae is not None:
            return self.vae.config.latent_channels
        return self.unet.config.in_channels - self.label_codec.num_channels

    @property
    def num_label_channels(self) -> int:
        """Channels of the label part of the model's input (VAE latents of the palette mask for latent models)."""
        if self.vae is not None:
            return self.vae.config.latent_channels
        return self.label_codec.num_channels

    @property
    def num_pixel_channels(self) -> int:
        """Channels of the images users pass and get (the VAE's `in_channels`, or the model's image channels)."""
        return self.vae.config.in_channels if self.vae is not None else self.num_image_channels

    @property
    def supports_conditional_sampling(self) -> bool:
        """Whether the model takes the label's noise level as an input, which `sampling_mode="conditional"` needs."""
        return supports_label_time(self.unet)

    def _check_channels(self) -> None:
        in_channels, out_channels = self.unet.config.in_channels, self.unet.config.out_channels
        if in_channels != out_channels:
            raise ValueError(
                f"The velocity model must predict one channel per input channel, got in_channels={in_channels} and "
                f"out_channels={out_channels}."
            )
        if self.vae is not None:
            if self.vae.config.in_channels != self.label_codec.num_channels:
                raise ValueError(
                    f"The VAE takes {self.vae.config.in_channels}-channel images but the palette code has "
                    f"{self.label_codec.num_channels} channels."
                )
            if in_channels != 2 * self.vae.config.latent_channels:
                raise ValueError(
                    f"A latent SymmFlow UNet takes image and mask latents ({self.vae.config.latent_channels} + "
                    f"{self.vae.config.latent_channels} channels), but this one has in_channels={in_channels}."
                )
        elif self.num_image_channels < 1:
            raise ValueError(
                f"The model has {in_channels} input channels, no more than the {self.label_codec.num_channels} "
                f"channels of the {self.config.label_encoding!r} label code, which leaves none for the image."
            )
        elif self.num_image_channels not in PIXEL_IMAGE_CHANNELS:
            # A UNet built for another label code (e.g. other `num_classes`) would otherwise be accepted and predict
            # classes that do not exist: the image side must be grayscale or RGB, as the training data's is.
            raise ValueError(
                f"The UNet has in_channels={in_channels}, but the {self.config.label_encoding!r} label code of "
                f"{self.label_codec.num_classes} classes has {self.label_codec.num_channels} channel(s), which leaves "
                f"{self.num_image_channels} for the image; a pixel-space image has "
                f"{' or '.join(map(str, PIXEL_IMAGE_CHANNELS))} channels (grayscale or RGB), so the UNet needs "
                f"{' or '.join(str(c + self.label_codec.num_channels) for c in PIXEL_IMAGE_CHANNELS)}. Check "
                "`num_classes`, `label_encoding` and `ignore_index` against the ones the UNet was trained with."
            )

    @property
    def sampling_modes(self) -> list[str]:
        """The sampling modes this model supports: `["joint", "conditional"]` with a label time input, else `["joint"]`."""
        return list(SAMPLING_MODES) if self.supports_conditional_sampling else ["joint"]

    @property
    def default_sampling_mode(self) -> str:
        """What `sampling_mode=None` means: `"conditional"` when the model supports it, else `"joint"`."""
        return "conditional" if "conditional" in self.sampling_modes else "joint"

    def _resolve_sampling_mode(self, sampling_mode: str | None) -> str:
        """The one place a call's `sampling_mode` is checked against the model and its default applied."""
        if sampling_mode is None:
            return self.default_sampling_mode
        if sampling_mode not in SAMPLING_MODES:
            raise ValueError(f"Unknown sampling_mode {sampling_mode!r}; choose one of {SAMPLING_MODES} or None.")
        if sampling_mode == "conditional" and not self.supports_conditional_sampling:
            raise ValueError(
                "sampling_mode='conditional' holds one side clean while the other is integrated, which needs a model "
                "that takes the label's noise level as a second time input (config.class_embed_type='timestep'). "
                "This model was trained without a label time input, so it cannot hold one side clean; use "
                "sampling_mode='joint' (the paper's ODE) or retrain with --label_time mixed."
            )
        return sampling_mode

    # ------------------------------------------------------------------------------------------------------------
    # Data <-> model space (shared with training and evaluation)
    # ------------------------------------------------------------------------------------------------------------

    def _vae_encode(self, pixels: torch.Tensor, generator=None, sample: bool = False) -> torch.Tensor:
        distribution = self.vae.encode(pixels.to(device=self.vae.device, dtype=self.vae.dtype)).latent_dist
        latents = distribution.sample(generator) if sample else distribution.mode()
        shift = getattr(self.vae.config, "shift_factor", None) or 0.0
        return (latents - shift) * self.vae.config.scaling_factor

    def _vae_decode(self, latents: torch.Tensor) -> torch.Tensor:
        shift = getattr(self.vae.config, "shift_factor", None) or 0.0
        latents = latents.to(device=self.vae.device, dtype=self.vae.dtype) / self.vae.config.scaling_factor + shift
        return self.vae.decode(latents).sample

    def encode_images(
        self, images: torch.Tensor, generator: torch.Generator | None = None, sample: bool = False
    ) -> torch.Tensor:
        """Images in [-1, 1] to the model's image space.

        Args:
            images (`torch.Tensor` of shape `[B, C, H, W]`): pixel images in [-1, 1].
            generator: used when `sample=True`.
            sample (`bool`, defaults to `False`): draw from the VAE posterior (`latent_dist.sample()`, training, as
                the authors do) instead of taking its mode (inference).

        Returns:
            `torch.Tensor`: `[B, num_image_channels, H / f, W / f]`: VAE latents times `scaling_factor` for latent
            models (`f = vae_scale_factor`), the images themselves for pixel models.
        """
        if self.vae is None:
            return images
        return self._vae_encode(images, generator=generator, sample=sample)

    def encode_labels(
        self,
        labels: torch.Tensor,
        spatial_size: tuple[int, int],
        beta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Class ids to the model's label space: `codec.encode` -> `codec.dequantize(beta)` -> (VAE, for latent models).

        Args:
            labels (`torch.Tensor`, int64): `[B]` class ids (classification) or `[B, H, W]` masks (segmentation).
            spatial_size (`tuple[int, int]`): `(H, W)` of the images in pixel space; classification codes are constant
                maps of this size.
            beta (`float`, defaults to 0.0): width of the uniform dequantization noise in 8-bit units (paper eq. 9; 4
                for MNIST / CIFAR-10, 10 for CelebAMask-HQ; the scalar code's rule is in `LabelCodec.dequantize`). 0 at
                inference.
            generator: for the dequantization noise.

        Returns:
            `torch.Tensor`: `[B, num_label_channels, H / f, W / f]`. Latent models encode the palette-coloured mask
            with the VAE posterior's mode (as the authors do) and scale it like the image latents.
        """
        code = self.label_codec.encode(labels, spatial_size=tuple(spatial_size))
        if beta > 0:
            code = self.label_codec.dequantize(code, beta, generator=generator)
        if self.vae is None:
            return code
        return self._vae_encode(code)

    def decode_labels(self, code: torch.Tensor) -> LabelDecoding:
        """The model's label space back to class ids and per-class scores (`LabelCodec.decode`).

        Args:
            code (`torch.Tensor` of shape `[B, num_label_channels, h, w]`): the label part of the model's state.

        Returns:
            `LabelDecoding`: `labels` `[B]` or `[B, H, W]` and `scores` `[B, K]` or `[B, K, H, W]` (probabilities).
        """
        if self.vae is not None:
            code = self._vae_decode(code)
        return self.label_codec.decode(code.float())

    def decode_images(self, z: torch.Tensor) -> torch.Tensor:
        """The model's image space back to pixel images `[B, C, H, W]` in [-1, 1] (clamped)."""
        images = self._vae_decode(z) if self.vae is not None else z
        return images.float().clamp(-1.0, 1.0)

    # ------------------------------------------------------------------------------------------------------------
    # Input checks (all before any model runs)
    # ------------------------------------------------------------------------------------------------------------

    def _pixel_sample_size(self) -> tuple[int, int] | None:
        size = getattr(self.unet.config, "sample_size", None)
        if size is None:
            return None
        return (size, size) if isinstance(size, int) else tuple(size)

    def _check_spatial_size(self, size: tuple[int, int], what: str) -> None:
        height, width = size
        if self.vae is None:
            expected = self._pixel_sample_size()
            if expected is not None and (height, width) != expected:
                raise ValueError(
                    f"{what} is {height}x{width} (HxW) but this pixel-space model was trained on "
                    f"{expected[0]}x{expected[1]} images and takes no other size; resize it to {expected[0]}x{expected[1]}."
                )
        elif height % self.vae_scale_factor or width % self.vae_scale_factor:
            raise ValueError(
                f"{what} is {height}x{width} (HxW); the VAE downsamples by {self.vae_scale_factor}, so height and width "
                f"must be multiples of {self.vae_scale_factor}."
            )

    def _check_randomness(
        self, generator, latents: torch.Tensor | None, expected_shape: tuple[int, ...], num_generators: int, per: str
    ) -> None:
        if isinstance(generator, list):
            if len(generator) != num_generators:
                raise ValueError(
                    f"Got a list of {len(generator)} generators for a batch of {num_generators} {per}; pass one "
                    f"generator per {per.rstrip('s')} or a single generator."
                )
            if not all(isinstance(g, torch.Generator) for g in generator):
                raise ValueError(f"`generator` must hold torch.Generator objects, got {[type(g) for g in generator]}.")
        elif generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"`generator` must be a torch.Generator or a list of them, got {type(generator)}.")
        if latents is not None:
            if not isinstance(latents, torch.Tensor):
                raise ValueError(f"`latents` must be a torch.Tensor, got {type(latents)}.")
            if tuple(latents.shape) != tuple(expected_shape):
                raise ValueError(
                    f"`latents` has shape {tuple(latents.shape)} but this call starts from noise of shape "
                    f"{tuple(expected_shape)}."
                )
            check_finite(latents, "`latents`")

    def _check_common(self, num_inference_steps: Any, output_type: str | None) -> None:
        check_inference_steps(num_inference_steps)
        if output_type is not None and output_type not in OUTPUT_TYPES:
            raise ValueError(f"Unknown output_type {output_type!r}; choose one of {OUTPUT_TYPES}.")

    def check_inputs(
        self,
        mask,
        class_labels,
        num_inference_steps: int,
        num_images_per_prompt: int,
        output_type: str,
        callback_on_step_end_tensor_inputs,
    ) -> None:
        """Checks of the generation arguments that do not depend on the parsed labels."""
        if mask is not None and class_labels is not None:
            raise ValueError("Pass either `mask` (segmentation models) or `class_labels` (classification models), not both.")
        if mask is None and class_labels is None:
            raise ValueError(
                "Pass the labels to generate from: `mask` for a segmentation model or `class_labels` for a "
                "classification model."
            )
        task = self.config.task
        if mask is not None and task != "segmentation":
            raise ValueError(
                f"This is a {task} model; it generates from `class_labels`, not from a `mask`."
            )
        if class_labels is not None and task != "classification":
            raise ValueError(f"This is a {task} model; it generates from a `mask`, not from `class_labels`.")
        self._check_common(num_inference_steps, output_type)
        check_positive_int("num_images_per_prompt", num_images_per_prompt)
        self._check_callback_tensor_inputs(callback_on_step_end_tensor_inputs)

    def _check_callback_tensor_inputs(self, callback_on_step_end_tensor_inputs) -> None:
        unknown = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if unknown:
            raise ValueError(
                f"`callback_on_step_end_tensor_inputs` has {unknown}; the pipeline offers {self._callback_tensor_inputs}."
            )

    def check_guidance_scale(self, guidance_scale: float) -> None:
        """Raise a `ValueError` unless `guidance_scale` is a finite number >= 0 this model can guide with.

        Any scale but 1 needs the unconditional velocity, which only a model with a label time gives (the label at
        full noise); 1 is no guidance and works with every model.
        """
        if (
            isinstance(guidance_scale, bool)
            or not isinstance(guidance_scale, numbers.Real)
            or not math.isfinite(guidance_scale)
            or guidance_scale < 0
        ):
            raise ValueError(
                f"`guidance_scale` must be a finite number >= 0 (1 is no guidance), got {guidance_scale!r}."
            )
        if guidance_scale != 1 and not self.supports_conditional_sampling:
            raise ValueError(
                f"guidance_scale={guidance_scale} mixes the velocity for the given label with the velocity for no "
                "label, which a SymmFlow model gives with its label at full noise (label time s = 1). This model's "
                f"UNet has no label time input (config.class_embed_type="
                f"{getattr(self.unet.config, 'class_embed_type', None)!r}), so it cannot be told the label is noise; "
                f"pass guidance_scale=1, or guide with {LABEL_TIME_MODEL}."
            )

    def check_prediction_inputs(
        self,
        image,
        num_inference_steps: int,
        num_samples: int,
        output_type: str | None,
        callback_on_step_end_tensor_inputs,
    ) -> None:
        """Checks of the `segment` / `classify` arguments that do not depend on the parsed images."""
        if image is None:
            raise ValueError("Pass the `image` to segment or classify.")
        self._check_common(num_inference_steps, output_type)
        check_positive_int("num_samples", num_samples)
        self._check_callback_tensor_inputs(callback_on_step_end_tensor_inputs)

    # ------------------------------------------------------------------------------------------------------------
    # Sampling
    # ------------------------------------------------------------------------------------------------------------

    def prepare_latents(
        self,
        num_items: int,
        samples_per_item: int,
        shape: tuple[int, ...],
        generator: torch.Generator | list[torch.Generator] | None,
        latents: torch.Tensor | None,
        device: torch.device,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """Initial noise `[num_items * samples_per_item, *shape]` for the side being generated.

        With a list of generators (one per item), item `i`'s samples all come from `generator[i]`, so a batch gives
        the same noise as single calls with the same generators.
        """
        if latents is not None:
            return latents.to(device=device, dtype=dtype)
        if isinstance(generator, list):
            return torch.cat(
                [randn_tensor((samples_per_item, *shape), generator=g, device=device, dtype=dtype) for g in generator]
            )
        return randn_tensor((num_items * samples_per_item, *shape), generator=generator, device=device, dtype=dtype)

    @property
    def num_timesteps(self) -> int:
        """Model calls of the last (or current) call's solver loop (`2 * num_inference_steps` for Heun); 0 before any."""
        return getattr(self, "_num_timesteps", 0)

    @property
    def interrupt(self) -> bool:
        """Set `pipe._interrupt = True` in a `callback_on_step_end` to skip the remaining steps (diffusers' convention);
        the call then decodes the state reached so far."""
        return getattr(self, "_interrupt", False)

    @property
    def guidance_scale(self) -> float:
        """The classifier-free guidance scale `w` of the running (or last) solver loop; 1 (no guidance) before any."""
        return getattr(self, "_guidance_scale", 1.0)

    @property
    def do_classifier_free_guidance(self) -> bool:
        """Whether the loop mixes in the unconditional velocity: any `guidance_scale` but 1.

        Read at every step, so a `callback_on_step_end` that sets `pipe._guidance_scale = 1.0` stops guiding for the
        remaining steps (diffusers' guidance cut-off; there the off value is 0 because diffusers guides only above 1,
        here 0 is the unconditional model itself).
        """
        return self.guidance_scale != 1

    def _guided_velocity(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        label_timestep: torch.Tensor,
        unconditional_label: torch.Tensor,
    ) -> torch.Tensor:
        """Classifier-free guided velocity for the state `sample` `[x | y]` (`[B, C_x + C_y, h, w]`), one 2B forward.

        `v_x = v_x_uncond + w (v_x_cond - v_x_uncond)` with `w = guidance_scale`. `v_cond` is the model's velocity at
        `sample` with its label time; `v_uncond` the velocity of the same image with the label at full noise: the
        label side replaced by `unconditional_label` (a fixed draw of the label noise `xi_y`) at label time `s = 1`.
        On the objective's path `y_s = (1 - s) y + s xi_y`, the state at `s = 1` is `xi_y` whatever `y` is (up to the
        authors' `sigma_min y`, 1e-4 y), so the model has learnt there the image velocity given no label, without any
        label dropout. A draw of `xi_y` (rather than zeros, its mean) keeps the input where training put it; a
        `"gated"` label input zeroes it at `s = 1` anyway. The label side keeps the conditional velocity `v_y_cond`:
        it moves only in the joint mode, along the given label's own path to noise, while the unconditional branch's
        `v_y` belongs to another state (the noise draw), so mixing them would move the label off its path.

        Returns:
            `torch.Tensor` of the shape of `sample`: `[v_x guided | v_y conditional]`.
        """
        c = self.num_image_channels
        batch = sample.shape[0]
        unconditional = torch.cat([sample[:, :c], unconditional_label.to(sample)], dim=1)
        # diffusers' CFG layout: conditional rows first, then the unconditional ones, split again by `chunk`.
        label_timesteps = torch.cat(
            [
                torch.as_tensor(label_timestep, device=sample.device, dtype=torch.float32).expand(batch),
                torch.full((batch,), float(self.scheduler.config.num_train_timesteps), device=sample.device),
            ]
        )
        velocity = predict_velocity(
            self.unet, torch.cat([sample, unconditional]), timestep, label_timesteps, label_head=self.label_head
        )
        conditional, unconditional = velocity.chunk(2)
        image = unconditional[:, :c] + self.guidance_scale * (conditional[:, :c] - unconditional[:, :c])
        return torch.cat([image, conditional[:, c:]], dim=1)

    def _integrate(
        self,
        sample: torch.Tensor,
        num_inference_steps: int,
        direction: str,
        mode: str,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] | list[str] = (),
        invert: bool = False,
        num_steps: int | None = None,
        guidance_scale: float = 1.0,
        unconditional_label: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Solve the SymmFlow ODE from the joint state `sample` `[x | y]` and return the final state.

        `invert` walks the grid backwards (clean to noise, see the scheduler). `num_steps` (all when `None`) runs only
        the part of the `num_inference_steps` grid nearest the clean end: its first steps when inverting, its last
        ones otherwise, so an inversion and a generation with the same `num_steps` retrace each other (SDEdit).
        With `guidance_scale != 1` every model call is `_guided_velocity` with the label noise `unconditional_label`
        (`[B, C_y, h, w]`); at 1 the loop is the unguided one, call for call.
        """
        device = sample.device
        self.scheduler.set_timesteps(num_inference_steps, direction=direction, mode=mode, device=device, invert=invert)
        order = self.scheduler.order
        num_steps = num_inference_steps if num_steps is None else num_steps
        first = 0 if invert else num_inference_steps - num_steps
        if first:
            self.scheduler.set_begin_index(first * order)
        calls = slice(first * order, (first + num_steps) * order)
        timesteps, label_timesteps = self.scheduler.timesteps[calls], self.scheduler.label_timesteps[calls]
        self._num_timesteps = len(timesteps)
        self._interrupt = False
        self._guidance_scale = guidance_scale
        with self.progress_bar(total=len(timesteps)) as progress_bar:
            for i, t in enumerate(timesteps):
                if self.interrupt:
                    continue
                if self.do_classifier_free_guidance:
                    velocity = self._guided_velocity(sample, t, label_timesteps[i], unconditional_label)
                else:
                    velocity = predict_velocity(self.unet, sample, t, label_timesteps[i], label_head=self.label_head)
                step = self.scheduler.step(velocity, t, sample, self.num_image_channels)
                sample = step.prev_sample
                if callback_on_step_end is not None:
                    # `latents` is the side this call integrates (the image going forward, the label in reverse),
                    # laid out as the call's `latents=` argument; `image_latents` / `label_latents` name each side.
                    c = self.num_image_channels
                    moving = slice(None, c) if direction == "forward" else slice(c, None)
                    offered = {
                        "latents": sample[:, moving],
                        "image_latents": sample[:, :c],
                        "label_latents": sample[:, c:],
                        "pred_original_sample": step.pred_original_sample[:, moving],
                    }
                    callback_kwargs = {name: offered[name] for name in callback_on_step_end_tensor_inputs}
                    callback_outputs = callback_on_step_end(self, i, t, callback_kwargs)
                    sides = [callback_outputs.pop("image_latents", sample[:, :c]),
                             callback_outputs.pop("label_latents", sample[:, c:])]
                    if "latents" in callback_outputs:
                        sides[0 if direction == "forward" else 1] = callback_outputs.pop("latents")
                    sample = torch.cat(sides, dim=1)
                progress_bar.update()
        return sample

    @torch.no_grad()
    def __call__(
        self,
        mask=None,
        class_labels: int | str | list[int] | list[str] | np.ndarray | torch.Tensor | None = None,
        num_inference_steps: int | None = None,
        num_images_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        sampling_mode: str | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] | list[str] = ("latents",),
        guidance_scale: float = 1.0,
    ) -> SymmFlowGenerationOutput | tuple:
        """Generate images from semantic masks (segmentation models) or class ids (classification models).

        Integrates t: 0 -> 1 from `[noise | clean label code]`; the label is held at its clean code (no
        dequantization noise at inference).

        Args:
            mask: for segmentation models, one or more masks (see `image_processor_symmflow`): class ids as integer
                arrays / tensors `[H, W]` or `[B, H, W]`, palette colours as uint8 arrays `[H, W, 3]`, or PIL images
                (`"RGB"` palette colours; `"P"` / `"L"` class ids, a `"P"` image's palette indices being the ids), or a
                list of these. Pixel-space models take
                their trained size only; latent models any multiple of `vae_scale_factor`.
            class_labels: for classification models, an int or a sequence / 1-d tensor of class ids; or class names
                (a `str` or a sequence of them) when the model has `class_names`.
            num_inference_steps (`int`, *optional*): solver steps, at most `MAX_INFERENCE_STEPS` (10,000);
                `config.default_generation_steps` (25) if `None`.
            num_images_per_prompt (`int`, defaults to 1): images per mask or class label (consecutive in the output).
            generator: a `torch.Generator`, or a list with one per generated image (`len(labels) *
                num_images_per_prompt`), for reproducible noise.
            latents (`torch.Tensor`, *optional*): the initial image noise, `[B * num_images_per_prompt,
                num_image_channels, h, w]` in model space, finite; drawn with `generator` when `None`.
            sampling_mode (`str`, *optional*): `"joint"` (the paper's ODE), `"conditional"` (label held clean; needs a
                model with a label time) or `None` (conditional when supported, else joint).
            output_type (`str`, defaults to `"pil"`): `"pil"`, `"np"` (float32 `[B, H, W, C]` in [0, 1]), `"pt"`
                (float `[B, C, H, W]` in [0, 1]) or `"latent"` (the image side of the final state in model space,
                not decoded, `[B * num_images_per_prompt, num_image_channels, h, w]`; see `SymmFlowGenerationOutput`).
            return_dict (`bool`, defaults to `True`): return a `SymmFlowGenerationOutput` instead of `(images,)`.
            callback_on_step_end: called after every model call as `callback(pipe, i, t, callback_kwargs)` and
                returns a dict; a returned `"latents"`, `"image_latents"` or `"label_latents"` replaces that part of
                the state (`"latents"` last).
            callback_on_step_end_tensor_inputs (defaults to `("latents",)`): what `callback_kwargs` holds, all in
                model space after the step: `"latents"` (the side the call integrates, laid out as the `latents`
                argument: here the image side `[B * num_images_per_prompt, num_image_channels, h, w]`),
                `"image_latents"` and `"label_latents"` (each side of the joint state `[image | label]`; the label
                side `[B * num_images_per_prompt, num_label_channels, h, w]`), `"pred_original_sample"` (the one-jump
                estimate of the clean end of the `"latents"` side, for previews).
            guidance_scale (`float`, defaults to 1.0): classifier-free guidance, `v = v_uncond + w (v_cond - v_uncond)`
                on the image side, where `v_uncond` is the model's velocity with the label at full noise (label time
                1) and `v_cond` the usual one; the label side keeps `v_cond` (see `_guided_velocity`). 1 is no
                guidance (the unguided loop exactly), above 1 follows the label more closely, 0 samples the
                unconditional model; values in (0, 1) are applied too (diffusers' pipelines treat them as 1). Needs a
                model with a label time; each step then runs the model once on a batch of `2 B`. The label noise of
                the unconditional half is drawn once per image from `generator`, after the image noise.

        Returns:
            `SymmFlowGenerationOutput` or `tuple`: the images, or the tuple `(images,)`.
        """
        if num_inference_steps is None:
            num_inference_steps = self.config.default_generation_steps
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs

        # 1. Check and parse the inputs (before any model runs).
        self.check_inputs(
            mask, class_labels, num_inference_steps, num_images_per_prompt, output_type,
            callback_on_step_end_tensor_inputs,
        )
        self.check_guidance_scale(guidance_scale)
        mode = self._resolve_sampling_mode(sampling_mode)
        if mask is not None:
            labels = self.image_processor.preprocess_masks(mask, self.label_codec)
            spatial_size = tuple(labels.shape[-2:])
            self._check_spatial_size(spatial_size, "The mask")
        else:
            labels = self.image_processor.preprocess_class_labels(class_labels, self.label_codec)
            spatial_size = self._pixel_sample_size()
            if spatial_size is None:
                raise ValueError("The model's config has no `sample_size`, so the image size to generate is unknown.")
        batch_size = labels.shape[0] * num_images_per_prompt
        latent_size = tuple(s // self.vae_scale_factor for s in spatial_size)
        noise_shape = (self.num_image_channels, *latent_size)
        self._check_randomness(generator, latents, (batch_size, *noise_shape), batch_size, "images")

        device, dtype = self._execution_device, self.unet.dtype

        # 2. Encode the labels: the clean code is the label side's starting point.
        labels = labels.repeat_interleave(num_images_per_prompt, dim=0).to(device)
        label_code = self.encode_labels(labels, spatial_size).to(dtype)

        # 3. Prepare the initial state [noise | clean code].
        noise = self.prepare_latents(batch_size, 1, noise_shape, generator, latents, device, dtype)
        sample = torch.cat([noise, label_code], dim=1)
        unconditional_label = None
        if guidance_scale != 1:
            # The label at full noise, the unconditional branch's label state: one draw, fixed for all steps.
            unconditional_label = self.prepare_latents(
                batch_size, 1, tuple(label_code.shape[1:]), generator, None, device, dtype
            )

        # 4. Integrate t: 0 -> 1.
        sample = self._integrate(
            sample, num_inference_steps, "forward", mode, callback_on_step_end, callback_on_step_end_tensor_inputs,
            guidance_scale=guidance_scale, unconditional_label=unconditional_label,
        )

        # 5. Decode and post-process (`"latent"`: the image side as it is).
        images = sample[:, : self.num_image_channels]
        if output_type != "latent":
            images = self.image_processor.postprocess(self.decode_images(images), output_type=output_type)
        self.maybe_free_model_hooks()

        if not return_dict:
            return (images,)
        return SymmFlowGenerationOutput(images=images)

    def _predict_label_codes(
        self,
        image,
        num_inference_steps: int,
        num_samples: int,
        generator,
        latents: torch.Tensor | None,
        sampling_mode: str | None,
        output_type: str | None,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] | list[str] = ("latents",),
    ) -> torch.Tensor:
        """Check the inputs, then integrate t: 1 -> 0 from `[image | noise]`, `num_samples` times per image.

        Returns the label part of the final state, `[B * num_samples, num_label_channels, h, w]` (the samples of
        image `i` are rows `i * num_samples ... (i + 1) * num_samples - 1`).
        """
        # 1. Check and parse the inputs (before any model runs).
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        self.check_prediction_inputs(
            image, num_inference_steps, num_samples, output_type, callback_on_step_end_tensor_inputs
        )
        mode = self._resolve_sampling_mode(sampling_mode)
        pixels = self.image_processor.preprocess_images(image, self.num_pixel_channels)
        spatial_size = tuple(pixels.shape[-2:])
        self._check_spatial_size(spatial_size, "The image")
        num_images = pixels.shape[0]
        latent_size = tuple(s // self.vae_scale_factor for s in spatial_size)
        noise_shape = (self.num_label_channels, *latent_size)
        self._check_randomness(generator, latents, (num_images * num_samples, *noise_shape), num_images, "images")

        device, dtype = self._execution_device, self.unet.dtype

        # 2. Encode the images (the posterior's mode: inference is deterministic given the label noise).
        image_latents = self.encode_images(pixels.to(device)).to(dtype)
        image_latents = image_latents.repeat_interleave(num_samples, dim=0)

        # 3. Prepare the initial state [image | noise]; all samples go through the model as one batch.
        noise = self.prepare_latents(num_images, num_samples, noise_shape, generator, latents, device, dtype)
        sample = torch.cat([image_latents, noise], dim=1)

        # 4. Integrate t: 1 -> 0 and keep the label side.
        sample = self._integrate(
            sample, num_inference_steps, "reverse", mode, callback_on_step_end, callback_on_step_end_tensor_inputs
        )
        return sample[:, self.num_image_channels :]

    @torch.no_grad()
    def segment(
        self,
        image,
        num_inference_steps: int | None = None,
        num_samples: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        sampling_mode: str | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] | list[str] = ("latents",),
    ) -> SymmFlowSegmentationOutput | tuple:
        """Segment images: integrate t: 1 -> 0 from `[image | label noise]` and decode the label (paper eq. 8).

        Args:
            image: PIL image(s), arrays `[H, W, C]` / `[B, H, W, C]` (uint8, or float in [0, 1]), tensors
                `[B, C, H, W]` (float in [0, 1] or [-1, 1]), or a list of these; see `image_processor_symmflow`.
                Grayscale models convert PIL images to `"L"`.
            num_inference_steps (`int`, *optional*): solver steps, at most `MAX_INFERENCE_STEPS` (10,000);
                `config.default_prediction_steps` (1) if `None`.
            num_samples (`int`, defaults to 1): label-noise samples per image. With more than one, `masks` is the
                per-pixel majority vote (ties go to the lower class id), `scores` the vote frequencies and
                `uncertainty` the entropy of the votes. The samples run through the model as one batch.
            generator: a `torch.Generator`, or a list with one per image (all of an image's samples use its
                generator, so a batch equals single calls with the same generators).
            latents (`torch.Tensor`, *optional*): the initial label noise, `[B * num_samples, num_label_channels, h, w]`
                in model space, finite.
            sampling_mode (`str`, *optional*): `"joint"`, `"conditional"` (image held clean) or `None` (conditional
                when supported).
            output_type (`str`, defaults to `"np"`): `"np"`, `"pt"`, `"pil"` or `"latent"` (the label side of the final
                state, not decoded; see `SymmFlowSegmentationOutput`).
            return_dict (`bool`, defaults to `True`): return a `SymmFlowSegmentationOutput` instead of the tuple
                `(masks, colored_masks, scores, uncertainty)`.
            callback_on_step_end, callback_on_step_end_tensor_inputs: as for `__call__`, with all samples of all
                images in the batch; here `"latents"` is the label side (laid out as the `latents` argument,
                `[B * num_samples, num_label_channels, h, w]`) and `"pred_original_sample"` its clean-end estimate.
                Setting `pipe._interrupt = True` in the callback stops the loop and decodes the label reached.

        Returns:
            `SymmFlowSegmentationOutput` or `tuple`.
        """
        if num_inference_steps is None:
            num_inference_steps = self.config.default_prediction_steps
        if self.config.task != "segmentation":
            raise ValueError(
                f"`segment` needs a segmentation model; this one was trained for {self.config.task}: use `classify`."
            )
        codes = self._predict_label_codes(
            image, num_inference_steps, num_samples, generator, latents, sampling_mode, output_type,
            callback_on_step_end, callback_on_step_end_tensor_inputs,
        )
        if output_type == "latent":
            self.maybe_free_model_hooks()
            if not return_dict:
                return (codes, None, None, None)
            return SymmFlowSegmentationOutput(masks=codes, colored_masks=None, scores=None, uncertainty=None)
        decoding = self.decode_labels(codes)
        labels, scores, uncertainty = self._aggregate_votes(decoding, num_samples)

        masks, colored_masks = self.image_processor.postprocess_masks(labels, self.label_codec, output_type)
        if output_type != "pt":
            scores = scores.cpu().numpy()
            uncertainty = uncertainty.cpu().numpy() if uncertainty is not None else None
        self.maybe_free_model_hooks()

        if not return_dict:
            return (masks, colored_masks, scores, uncertainty)
        return SymmFlowSegmentationOutput(
            masks=masks, colored_masks=colored_masks, scores=scores, uncertainty=uncertainty
        )

    def _aggregate_votes(
        self, decoding: LabelDecoding, num_samples: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Per-pixel majority vote over each image's samples: `(labels [B,H,W], frequencies [B,K,H,W], entropy)`."""
        labels, scores = decoding.labels.long().cpu(), decoding.scores.float().cpu()
        if num_samples == 1:
            return labels, scores, None
        codec = self.label_codec
        num_classes, num_codes = codec.num_classes, codec.num_codes
        # An ignore_index with a code of its own (e.g. 255) votes as code K, after the K classes.
        codes = torch.where(labels == codec.ignore_index, num_classes, labels) if codec.has_ignore_code else labels
        votes = codes.reshape(-1, num_samples, *codes.shape[1:])
        counts = torch.nn.functional.one_hot(votes, num_codes).sum(dim=1).permute(0, 3, 1, 2)  # [B, K(+1), H, W]
        frequencies = counts.float() / num_samples
        # argmax returns the first maximum: ties go to the lowest class id, deterministically.
        majority = frequencies.argmax(dim=1)
        if codec.has_ignore_code:
            majority = torch.where(majority == num_classes, codec.ignore_index, majority)
        entropy = -(frequencies * torch.log(frequencies.clamp_min(1e-12))).sum(dim=1)
        return majority, frequencies[:, :num_classes], entropy

    @torch.no_grad()
    def classify(
        self,
        image,
        num_inference_steps: int | None = None,
        num_samples: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        sampling_mode: str | None = None,
        return_dict: bool = True,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] | list[str] = ("latents",),
    ) -> SymmFlowClassificationOutput | tuple:
        """Classify images in one pass of the reverse ODE (no loop over classes, unlike Diffusion Classifier).

        Classification models decode their class code. A segmentation model with a `background_class` segments and
        returns, per image, the object class covering the most pixels; its `scores` are the shares of the object
        pixels per class (the background's entry is 0), or the mean per-pixel scores of the object classes when no
        pixel is predicted as an object.

        Args:
            image: as for `segment`; pixel-space models take their trained size only.
            num_inference_steps (`int`, *optional*): solver steps, at most `MAX_INFERENCE_STEPS` (10,000);
                `config.default_prediction_steps` (1) if `None` (the paper's best classification accuracy is at one
                step).
            num_samples (`int`, defaults to 1): label-noise samples per image, run as one batch; their scores are
                averaged and `labels` is the argmax of the average.
            generator: a `torch.Generator`, or a list with one per image.
            latents (`torch.Tensor`, *optional*): the initial label noise, `[B * num_samples, num_label_channels, H, W]`.
            sampling_mode (`str`, *optional*): `"joint"`, `"conditional"` or `None` (conditional when supported).
            return_dict (`bool`, defaults to `True`): return a `SymmFlowClassificationOutput` instead of the tuple
                `(labels, scores, class_names)`.
            callback_on_step_end, callback_on_step_end_tensor_inputs: as for `segment`.

        Returns:
            `SymmFlowClassificationOutput` or `tuple`; `labels` and `scores` are CPU tensors.
        """
        if num_inference_steps is None:
            num_inference_steps = self.config.default_prediction_steps
        background = self.config.get("background_class")
        if self.config.task != "classification" and background is None:
            raise ValueError(
                f"`classify` needs a classification model, or a segmentation model with a `background_class`; this "
                f"one was trained for {self.config.task} without one: use `segment`."
            )
        if self.config.task == "segmentation":
            masks = self.segment(
                image, num_inference_steps, num_samples, generator, latents, sampling_mode, output_type="pt",
                callback_on_step_end=callback_on_step_end,
                callback_on_step_end_tensor_inputs=callback_on_step_end_tensor_inputs,
            )
            labels, scores = self._classify_from_masks(masks.masks, masks.scores, background)
        else:
            codes = self._predict_label_codes(
                image, num_inference_steps, num_samples, generator, latents, sampling_mode, None,
                callback_on_step_end, callback_on_step_end_tensor_inputs,
            )
            decoding = self.decode_labels(codes)
            labels, scores = decoding.labels.long().cpu(), decoding.scores.float().cpu()
            if num_samples > 1:
                scores = scores.reshape(-1, num_samples, scores.shape[-1]).mean(dim=1)
                labels = scores.argmax(dim=1)
        names = self.config.class_names
        class_names = [names[i] for i in labels.tolist()] if names is not None else None
        self.maybe_free_model_hooks()

        if not return_dict:
            return (labels, scores, class_names)
        return SymmFlowClassificationOutput(labels=labels, scores=scores, class_names=class_names)

    def _classify_from_masks(
        self, masks: torch.Tensor, pixel_scores: torch.Tensor, background: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Image labels `[B]` and scores `[B, K]` from predicted masks `[B, H, W]` and per-pixel scores `[B, K, H, W]`."""
        num_classes = self.label_codec.num_classes
        masks, pixel_scores = masks.long().cpu(), pixel_scores.float().cpu()
        objects = torch.ones(num_classes)  # 1 for every class but the background
        objects[background] = 0.0
        # Pixels of an ignore_index with its own code (e.g. 255) count for no class.
        valid = (masks >= 0) & (masks < num_classes)
        votes = torch.nn.functional.one_hot(torch.where(valid, masks, background), num_classes).flatten(1, 2)
        counts = votes.sum(dim=1).float() * objects  # [B, K]
        # Images with no object pixel fall back on the object classes' mean per-pixel scores, and images without
        # any object score at all (e.g. every vote went to the background) on a uniform choice among the objects.
        fallback = pixel_scores.mean(dim=(2, 3)) * objects
        scores = torch.where(counts.sum(dim=1, keepdim=True) > 0, counts, fallback)
        scores = torch.where(scores.sum(dim=1, keepdim=True) > 0, scores, objects.expand_as(scores))
        scores = scores / scores.sum(dim=1, keepdim=True)
        return scores.argmax(dim=1), scores

    # ------------------------------------------------------------------------------------------------------------
    # Inversion and editing (conditional models: the mask stays clean while the image moves)
    # ------------------------------------------------------------------------------------------------------------

    @staticmethod
    def _strength_steps(num_inference_steps: int, strength: float) -> int:
        """How many of the grid's steps an inversion of `strength` takes: `ceil(strength * num_inference_steps)`."""
        # Rounded first so that 0.6 * 25 = 15.000000000000002 takes 15 steps, not 16.
        return max(1, math.ceil(round(strength * num_inference_steps, 6)))

    def check_edit_inputs(
        self,
        image,
        mask,
        source_mask,
        strength: float,
        num_inference_steps: int,
        generator,
        output_type: str | None,
        callback_on_step_end_tensor_inputs,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Checks of `invert` / `edit`, before any model runs; returns the parsed `(pixels, masks, source_masks)`.

        `pixels` is `[B, C, H, W]` in [-1, 1]; `masks` / `source_masks` are int64 `[B, H, W]`, or `None` when not
        given.
        """
        if self.config.task != "segmentation":
            raise ValueError(
                f"`invert` and `edit` work on segmentation models (an image and its mask); this one was trained for "
                f"{self.config.task}."
            )
        if not self.supports_conditional_sampling:
            raise ValueError(
                "Inversion holds the mask clean while the image is integrated back to noise. This model was trained "
                "without a label time input (the paper's joint ODE turns the mask into noise along the way, so it "
                f"cannot keep the mask); `invert` and `edit` need {LABEL_TIME_MODEL}."
            )
        self._check_common(num_inference_steps, output_type)
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
            raise ValueError(f"`strength` must lie in (0, 1], got {strength!r}.")
        unknown = [k for k in callback_on_step_end_tensor_inputs if k not in self._callback_tensor_inputs]
        if unknown:
            raise ValueError(
                f"`callback_on_step_end_tensor_inputs` has {unknown}; the pipeline offers {self._callback_tensor_inputs}."
            )
        pixels = self.image_processor.preprocess_images(image, self.num_pixel_channels)
        spatial_size = tuple(pixels.shape[-2:])
        self._check_spatial_size(spatial_size, "The image")
        parsed = []
        for name, value in (("mask", mask), ("source_mask", source_mask)):
            if value is None:
                parsed.append(None)
                continue
            labels = self.image_processor.preprocess_masks(value, self.label_codec)
            if tuple(labels.shape[-2:]) != spatial_size:
                raise ValueError(
                    f"`{name}` is {labels.shape[-2]}x{labels.shape[-1]} (HxW) but the image is "
                    f"{spatial_size[0]}x{spatial_size[1]}; an image and its masks must have the same size."
                )
            if labels.shape[0] != pixels.shape[0]:
                raise ValueError(
                    f"Got {labels.shape[0]} `{name}`(s) for {pixels.shape[0]} image(s); pass one mask per image."
                )
            parsed.append(labels)
        self._check_randomness(generator, None, (), pixels.shape[0], "images")
        return pixels, parsed[0], parsed[1]

    def _source_masks(self, image, source_masks: torch.Tensor | None, generator) -> torch.Tensor:
        """The given source masks, or the ones `segment` predicts for the user's `image` (default steps, one sample)."""
        if source_masks is not None:
            return source_masks
        # The user's images, not the parsed [-1, 1] tensor: a tensor without negative values would read as [0, 1].
        return self.segment(image, generator=generator, output_type="pt").masks.long()

    def _invert_to_noise(
        self,
        pixels: torch.Tensor,
        source_masks: torch.Tensor,
        num_inference_steps: int,
        num_steps: int,
        callback_on_step_end=None,
        callback_on_step_end_tensor_inputs=(),
        guidance_scale: float = 1.0,
        unconditional_label: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Integrate `[image | clean source code]` from the clean end back over `num_steps` grid steps.

        `guidance_scale` / `unconditional_label` guide the velocity as in `_integrate`. Returns the image side
        `[B, num_image_channels, h, w]` in model space.
        """
        device, dtype = self._execution_device, self.unet.dtype
        spatial_size = tuple(pixels.shape[-2:])
        image_latents = self.encode_images(pixels.to(device)).to(dtype)
        source_code = self.encode_labels(source_masks.to(device), spatial_size).to(dtype)
        sample = torch.cat([image_latents, source_code], dim=1)
        sample = self._integrate(
            sample, num_inference_steps, "forward", "conditional", callback_on_step_end,
            callback_on_step_end_tensor_inputs, invert=True, num_steps=num_steps, guidance_scale=guidance_scale,
            unconditional_label=unconditional_label,
        )
        return sample[:, : self.num_image_channels]

    @torch.no_grad()
    def invert(
        self,
        image,
        mask=None,
        strength: float = 1.0,
        num_inference_steps: int | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        return_dict: bool = True,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] | list[str] = ("latents",),
    ) -> SymmFlowInversionOutput | tuple:
        """Integrate the generation ODE backwards: from an image (clean) to the noise that generates it from `mask`.

        The mask is held at its clean code (conditional mode) while the image side walks the generation grid in
        reverse. `pipe(mask=mask, latents=out.latents, num_inference_steps=...)` with the same steps regenerates the
        image; how closely depends on how straight the learned flow is (exact for a velocity that does not change
        along the path; Euler's error shrinks with more steps).

        Args:
            image: the images to invert, in any format `segment` takes; pixel-space models take their trained size.
            mask (*optional*): the images' masks, in any format `__call__` takes, one per image and of the image's
                size. `None` predicts them with `segment` (default steps, one sample, `generator`).
            strength (`float`, defaults to 1.0): in (0, 1]: the share of the grid to invert (the first
                `ceil(strength * num_inference_steps)` steps from the clean end); 1 reaches pure noise.
            num_inference_steps (`int`, *optional*): the grid's steps; `config.default_generation_steps` if `None`.
            generator: for the label noise of `segment` when `mask` is `None` (one per image, or one).
            return_dict (`bool`, defaults to `True`): return a `SymmFlowInversionOutput` instead of the tuple
                `(latents, noise_level, source_masks)`.
            callback_on_step_end, callback_on_step_end_tensor_inputs: as in `__call__`, for every inversion step.

        Returns:
            `SymmFlowInversionOutput` or `tuple`.

        Raises:
            ValueError: for a classification model, a model without a label time input, `strength` outside (0, 1],
                masks of another size or count than the images, before any model runs.
        """
        if num_inference_steps is None:
            num_inference_steps = self.config.default_generation_steps
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        pixels, source_masks, _ = self.check_edit_inputs(
            image, mask, None, strength, num_inference_steps, generator, None, callback_on_step_end_tensor_inputs
        )
        num_steps = self._strength_steps(num_inference_steps, strength)
        source_masks = self._source_masks(image, source_masks, generator)
        latents = self._invert_to_noise(
            pixels, source_masks, num_inference_steps, num_steps, callback_on_step_end,
            callback_on_step_end_tensor_inputs,
        )
        noise_level = float(self.scheduler.sigmas[num_steps])
        self.maybe_free_model_hooks()

        if not return_dict:
            return (latents, noise_level, source_masks.cpu())
        return SymmFlowInversionOutput(latents=latents, noise_level=noise_level, source_masks=source_masks.cpu())

    @torch.no_grad()
    def edit(
        self,
        image,
        mask,
        source_mask=None,
        strength: float = 1.0,
        num_inference_steps: int | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "pil",
        return_dict: bool = True,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] | list[str] = ("latents",),
        guidance_scale: float = 1.0,
    ) -> SymmFlowEditOutput | tuple:
        """Edit images by their masks: invert each image with its source mask, then regenerate it with `mask`.

        Both halves hold their mask clean (conditional mode), so the regenerated image follows the new mask while the
        inverted noise keeps what the masks do not say (stroke width, slant, texture). With `mask == source_mask`
        the result is `invert`'s reconstruction.

        Args:
            image: the images to edit, in any format `segment` takes.
            mask: the edited masks, one per image and of the image's size (formats as in `__call__`).
            source_mask (*optional*): the images' current masks; `None` predicts them with `segment` (default steps,
                one sample, `generator`).
            strength (`float`, defaults to 1.0): in (0, 1]: how far to invert (SDEdit): the first
                `ceil(strength * num_inference_steps)` steps back from the clean image, then as many forward with the
                new mask. Lower keeps more of the image and follows the new mask less.
            num_inference_steps (`int`, *optional*): the grid's steps; `config.default_generation_steps` if `None`.
            generator: for the label noise of `segment` when `source_mask` is `None`; inversion is deterministic.
            output_type (`str`, defaults to `"pil"`): `"pil"`, `"np"`, `"pt"` or `"latent"`, as in `__call__`.
            return_dict (`bool`, defaults to `True`): return a `SymmFlowEditOutput` instead of
                `(images, source_masks)`.
            callback_on_step_end: called after every model call of both halves as `callback(pipe, i, t, kwargs)`,
                `i` counting on from the inversion into the generation; a returned `"latents"` replaces the state.
            callback_on_step_end_tensor_inputs (defaults to `("latents",)`): as in `__call__`.
            guidance_scale (`float`, defaults to 1.0): classifier-free guidance as in `__call__`, of both halves: the
                inversion with `source_mask` and the regeneration with `mask` integrate the same guided field, with
                one draw of the unconditional label noise (from `generator`, after `segment`'s). The unconditional
                parts then cancel, so where the flow is straight the edit moves the image by `w` times the velocity
                change the new mask causes, and `mask == source_mask` still reconstructs the image. 1 is no guidance;
                above 1 follows the new mask more closely.

        Returns:
            `SymmFlowEditOutput` or `tuple`.

        Raises:
            ValueError: as `invert`, and for an unknown `output_type`, before any model runs.
        """
        if num_inference_steps is None:
            num_inference_steps = self.config.default_generation_steps
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs

        # 1. Check and parse the inputs (before any model runs).
        pixels, masks, source_masks = self.check_edit_inputs(
            image, mask, source_mask, strength, num_inference_steps, generator, output_type,
            callback_on_step_end_tensor_inputs,
        )
        if masks is None:
            raise ValueError("Pass the edited `mask` (one per image); `source_mask` is optional.")
        self.check_guidance_scale(guidance_scale)
        num_steps = self._strength_steps(num_inference_steps, strength)
        spatial_size = tuple(pixels.shape[-2:])

        # 2. Invert with the source masks.
        source_masks = self._source_masks(image, source_masks, generator)
        unconditional_label = None
        if guidance_scale != 1:
            # The label at full noise for the unconditional branch of both halves: one draw, fixed for all steps.
            label_shape = (self.num_label_channels, *(s // self.vae_scale_factor for s in spatial_size))
            unconditional_label = self.prepare_latents(
                pixels.shape[0], 1, label_shape, generator, None, self._execution_device, self.unet.dtype
            )
        latents = self._invert_to_noise(
            pixels, source_masks, num_inference_steps, num_steps, callback_on_step_end,
            callback_on_step_end_tensor_inputs, guidance_scale=guidance_scale, unconditional_label=unconditional_label,
        )

        # 3. Regenerate from there with the edited masks, over the same part of the grid.
        label_code = self.encode_labels(masks.to(latents.device), spatial_size).to(latents.dtype)
        sample = torch.cat([latents, label_code], dim=1)
        generation_callback = callback_on_step_end
        if callback_on_step_end is not None:
            offset = self._num_timesteps

            def generation_callback(pipe, i, t, callback_kwargs):
                return callback_on_step_end(pipe, i + offset, t, callback_kwargs)

        sample = self._integrate(
            sample, num_inference_steps, "forward", "conditional", generation_callback,
            callback_on_step_end_tensor_inputs, num_steps=num_steps, guidance_scale=guidance_scale,
            unconditional_label=unconditional_label,
        )

        # 4. Decode and post-process (`"latent"`: the image side as it is).
        images = sample[:, : self.num_image_channels]
        if output_type != "latent":
            images = self.image_processor.postprocess(self.decode_images(images), output_type=output_type)
        self.maybe_free_model_hooks()

        if not return_dict:
            return (images, source_masks.cpu())
        return SymmFlowEditOutput(images=images, source_masks=source_masks.cpu())
