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

import math
import numbers
from typing import Any, Callable

import numpy as np
import torch
from diffusers import AutoencoderKL, DiffusionPipeline, ModelMixin, SchedulerMixin  # noqa: F401  (loader looks up by name)
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.utils import replace_example_docstring

from ...inputs import check_finite, check_positive_int
from ...labels import LabelCodec
from ...models import LabelHead, check_label_prediction, supports_label_time
from ...models.velocity import LABEL_TIME_MODEL
from ...schedulers import SymmFlowScheduler
from ...schedulers.scheduling_symmflow import SAMPLING_MODES, check_inference_steps
from .pipeline_output import SymmFlowGenerationOutput
from .pipeline_symmflow_edit import SymmFlowEditMixin
from .pipeline_symmflow_prediction import SymmFlowPredictionMixin
from .symmflow_encoding import SymmFlowEncodingMixin
from .symmflow_image_processing import SymmFlowImageProcessor
from .symmflow_loading import SymmFlowLoadingMixin
from .symmflow_sampling import SymmFlowSamplingMixin


OUTPUT_TYPES = ("pil", "np", "pt", "latent")
"""`"latent"` (diffusers' convention) returns the state in model space, neither decoded nor post-processed."""
PIXEL_IMAGE_CHANNELS = (1, 3)
"""Image channels of a pixel-space model: grayscale or RGB (what the training data and PIL images hold)."""
EXAMPLE_DOC_STRING = """
    Examples:
    ```py
    >>> import torch
    >>> from diffusers_symmflow import SymmFlowPipeline

    >>> pipe = SymmFlowPipeline.from_pretrained("path/or/hub-id")  # a pipeline saved by examples/train_symmflow.py

    >>> # A segmentation model: generate from a mask (class ids [H, W]), segment an image, edit it by its mask.
    >>> out = pipe.segment(image, num_inference_steps=1)  # masks, colored_masks, scores
    >>> images = pipe(mask=out.masks, generator=torch.Generator().manual_seed(0)).images
    >>> edited = pipe.edit(image, new_mask, source_mask=out.masks, num_inference_steps=25).images  # label-time models

    >>> # A classification model: generate from class ids, classify an image in one step.
    >>> images = pipe(class_labels=[3, 7], num_inference_steps=25).images
    >>> labels = pipe.classify(image, num_inference_steps=1).labels
    ```
"""


class SymmFlowPipeline(
    SymmFlowPredictionMixin,
    SymmFlowEditMixin,
    SymmFlowSamplingMixin,
    SymmFlowEncodingMixin,
    SymmFlowLoadingMixin,
    DiffusionPipeline,
):
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

    This model inherits from `DiffusionPipeline` (saving, loading, `.to(...)`, offloading, progress bars). Its entry
    points live in the modules of the family folder, mixed into this one class: `segment` / `classify`
    (`SymmFlowPredictionMixin`), `invert` / `edit` (`SymmFlowEditMixin`), the data <-> model-space encoders
    (`SymmFlowEncodingMixin`) and saving / loading (`SymmFlowLoadingMixin`). One object serves them all, so a callback
    receives `pipe` itself whichever call it runs in, and `pipe.edit` needs no second pipeline.

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
                raise ValueError(
                    "`background_class` applies to segmentation models only; a classifier has no background."
                )
            if (
                isinstance(background_class, bool)
                or not isinstance(background_class, int)
                or not (0 <= background_class < num_classes)
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
            unet: as in the constructor.
            scheduler: as in the constructor.
            vae: as in the constructor.
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
                "sampling_mode='joint' (the paper's ODE), or train a model with a label time: "
                + LABEL_TIME_MODEL
                + "."
            )
        return sampling_mode

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
        generator,
        latents: torch.Tensor | None,
        sampling_mode: str | None,
        output_type: str,
        callback_on_step_end_tensor_inputs,
        guidance_scale: float,
    ) -> tuple[torch.Tensor, tuple[int, int], str]:
        """All checks of `__call__`'s arguments, before any model runs; returns what they parse to.

        Returns:
            `(labels, spatial_size, sampling_mode)`: the class ids (int64 `[B, H, W]` masks or `[B]` class ids), the
            `(H, W)` of the images to generate, and the resolved sampling mode.
        """
        if mask is not None and class_labels is not None:
            raise ValueError(
                "Pass either `mask` (segmentation models) or `class_labels` (classification models), not both."
            )
        if mask is None and class_labels is None:
            raise ValueError(
                "Pass the labels to generate from: `mask` for a segmentation model or `class_labels` for a "
                "classification model."
            )
        task = self.config.task
        if mask is not None and task != "segmentation":
            raise ValueError(f"This is a {task} model; it generates from `class_labels`, not from a `mask`.")
        if class_labels is not None and task != "classification":
            raise ValueError(f"This is a {task} model; it generates from a `mask`, not from `class_labels`.")
        self._check_common(num_inference_steps, output_type)
        check_positive_int("num_images_per_prompt", num_images_per_prompt)
        self._check_callback_tensor_inputs(callback_on_step_end_tensor_inputs)
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
        noise_shape = (self.num_image_channels, *(s // self.vae_scale_factor for s in spatial_size))
        self._check_randomness(generator, latents, (batch_size, *noise_shape), batch_size, "images")
        return labels, spatial_size, mode

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

    @torch.no_grad()
    @replace_example_docstring(EXAMPLE_DOC_STRING)
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
            mask: for segmentation models, one or more masks (see `symmflow_image_processing`): class ids as integer
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

        Examples:

        Returns:
            `SymmFlowGenerationOutput` or `tuple`: the images, or the tuple `(images,)`.
        """
        if num_inference_steps is None:
            num_inference_steps = self.config.default_generation_steps
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs

        # 1. Check and parse the inputs (before any model runs).
        labels, spatial_size, mode = self.check_inputs(
            mask,
            class_labels,
            num_inference_steps,
            num_images_per_prompt,
            generator,
            latents,
            sampling_mode,
            output_type,
            callback_on_step_end_tensor_inputs,
            guidance_scale,
        )
        batch_size = labels.shape[0] * num_images_per_prompt
        noise_shape = (self.num_image_channels, *(s // self.vae_scale_factor for s in spatial_size))

        device, dtype = self._execution_placement()

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
            sample,
            num_inference_steps,
            "forward",
            mode,
            callback_on_step_end,
            callback_on_step_end_tensor_inputs,
            guidance_scale=guidance_scale,
            unconditional_label=unconditional_label,
        )

        # 5. Decode and post-process (`"latent"`: the image side as it is).
        images = self._output_images(sample, output_type)
        self.maybe_free_model_hooks()

        if not return_dict:
            return (images,)
        return SymmFlowGenerationOutput(images=images)
