# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""`invert` and `edit`: integrate an image back to its noise with its mask held clean, then regenerate it with
another mask (SDEdit with `strength < 1`). Conditional models only: the mask stays clean while the image moves."""

import math
from typing import Callable

import torch
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback

from ...models.velocity import LABEL_TIME_MODEL
from .pipeline_output import SymmFlowEditOutput, SymmFlowInversionOutput


class SymmFlowEditMixin:
    """Inversion and mask editing with a `SymmFlowPipeline` (mixed into it).

    Uses the host pipeline's input checks, `segment` (for source masks not given), model-space encoders and decoders
    and its solver loop (`_integrate`).
    """

    @staticmethod
    def _strength_steps(num_inference_steps: int, strength: float) -> int:
        """How many of the grid's steps an inversion of `strength` takes: `ceil(strength * num_inference_steps)`."""
        # Rounded first so that 0.6 * 25 = 15.000000000000002 takes 15 steps, not 16.
        return max(1, math.ceil(round(strength * num_inference_steps, 6)))

    def _check_inversion_inputs(
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
        """The checks `invert` and `edit` share; returns the parsed `(pixels, masks, source_masks)`.

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
        self._check_callback_tensor_inputs(callback_on_step_end_tensor_inputs)
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

    def check_invert_inputs(
        self,
        image,
        mask,
        strength: float,
        num_inference_steps: int,
        generator,
        callback_on_step_end_tensor_inputs,
        guidance_scale: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """All checks of `invert`'s arguments, before any model runs.

        Returns:
            `(pixels, source_masks)`: the images, float32 `[B, C, H, W]` in [-1, 1], and their masks, int64
            `[B, H, W]` (`None` when not given).
        """
        pixels, source_masks, _ = self._check_inversion_inputs(
            image, mask, None, strength, num_inference_steps, generator, None, callback_on_step_end_tensor_inputs
        )
        self.check_guidance_scale(guidance_scale)
        return pixels, source_masks

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
        guidance_scale: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """All checks of `edit`'s arguments, before any model runs.

        Returns:
            `(pixels, masks, source_masks)`: the images, float32 `[B, C, H, W]` in [-1, 1], the edited masks and the
            source masks, int64 `[B, H, W]` (`source_masks` is `None` when not given).
        """
        pixels, masks, source_masks = self._check_inversion_inputs(
            image,
            mask,
            source_mask,
            strength,
            num_inference_steps,
            generator,
            output_type,
            callback_on_step_end_tensor_inputs,
        )
        if masks is None:
            raise ValueError("Pass the edited `mask` (one per image); `source_mask` is optional.")
        self.check_guidance_scale(guidance_scale)
        return pixels, masks, source_masks

    def _source_masks(self, image, source_masks: torch.Tensor | None, generator) -> torch.Tensor:
        """The given source masks, or the ones `segment` predicts for the user's `image` (default steps, one sample)."""
        if source_masks is not None:
            return source_masks
        # The user's images, not the parsed [-1, 1] tensor: a tensor without negative values would read as [0, 1].
        return self.segment(image, generator=generator, output_type="pt").masks.long()

    def _unconditional_label(self, pixels: torch.Tensor, generator, guidance_scale: float) -> torch.Tensor | None:
        """The label at full noise for the unconditional branch (one draw per image from `generator`, fixed for all
        steps of both halves), or `None` without guidance. `__call__` draws it the same way, after its image noise."""
        if guidance_scale == 1:
            return None
        label_shape = (self.num_label_channels, *(s // self.vae_scale_factor for s in pixels.shape[-2:]))
        return self.prepare_latents(pixels.shape[0], 1, label_shape, generator, None, *self._execution_placement())

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
        device, dtype = self._execution_placement()
        spatial_size = tuple(pixels.shape[-2:])
        image_latents = self.encode_images(pixels.to(device)).to(dtype)
        source_code = self.encode_labels(source_masks.to(device), spatial_size).to(dtype)
        sample = torch.cat([image_latents, source_code], dim=1)
        sample = self._integrate(
            sample,
            num_inference_steps,
            "forward",
            "conditional",
            callback_on_step_end,
            callback_on_step_end_tensor_inputs,
            invert=True,
            num_steps=num_steps,
            guidance_scale=guidance_scale,
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
        guidance_scale: float = 1.0,
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
            callback_on_step_end: as in `__call__`, for every inversion step.
            callback_on_step_end_tensor_inputs: as in `__call__`.
            guidance_scale (`float`, defaults to 1.0): invert the guided field `__call__` integrates with this
                `guidance_scale`, so that generating from `latents` with guidance regenerates the image. The
                unconditional label noise is drawn from `generator` (after `segment`'s draw when `mask` is `None`),
                as `__call__` draws it when given `latents`: regenerate with
                `pipe(mask=mask, latents=out.latents, guidance_scale=w, generator=g)` where `g` is in the state this
                call's generator was in (with `mask` given: a generator seeded alike). 1 is no guidance.

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

        # 1. Check and parse the inputs (before any model runs).
        pixels, source_masks = self.check_invert_inputs(
            image, mask, strength, num_inference_steps, generator, callback_on_step_end_tensor_inputs, guidance_scale
        )
        num_steps = self._strength_steps(num_inference_steps, strength)
        source_masks = self._source_masks(image, source_masks, generator)
        latents = self._invert_to_noise(
            pixels,
            source_masks,
            num_inference_steps,
            num_steps,
            callback_on_step_end,
            callback_on_step_end_tensor_inputs,
            guidance_scale=guidance_scale,
            unconditional_label=self._unconditional_label(pixels, generator, guidance_scale),
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
            image,
            mask,
            source_mask,
            strength,
            num_inference_steps,
            generator,
            output_type,
            callback_on_step_end_tensor_inputs,
            guidance_scale,
        )
        num_steps = self._strength_steps(num_inference_steps, strength)
        spatial_size = tuple(pixels.shape[-2:])

        # 2. Invert with the source masks.
        source_masks = self._source_masks(image, source_masks, generator)
        unconditional_label = self._unconditional_label(pixels, generator, guidance_scale)
        latents = self._invert_to_noise(
            pixels,
            source_masks,
            num_inference_steps,
            num_steps,
            callback_on_step_end,
            callback_on_step_end_tensor_inputs,
            guidance_scale=guidance_scale,
            unconditional_label=unconditional_label,
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
            sample,
            num_inference_steps,
            "forward",
            "conditional",
            generation_callback,
            callback_on_step_end_tensor_inputs,
            num_steps=num_steps,
            guidance_scale=guidance_scale,
            unconditional_label=unconditional_label,
        )

        # 4. Decode and post-process (`"latent"`: the image side as it is).
        images = self._output_images(sample, output_type)
        self.maybe_free_model_hooks()

        if not return_dict:
            return (images, source_masks.cpu())
        return SymmFlowEditOutput(images=images, source_masks=source_masks.cpu())
