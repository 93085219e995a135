# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""`segment` and `classify`: integrate t: 1 -> 0 from `[image | label noise]` and read the label (paper eq. 8)."""

from typing import Callable

import torch
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback

from ...inputs import check_positive_int
from ...labels import LabelDecoding
from .pipeline_output import SymmFlowClassificationOutput, SymmFlowSegmentationOutput


class SymmFlowPredictionMixin:
    """Segmentation and classification, the reverse direction of `SymmFlowPipeline` (mixed into it).

    Uses the host pipeline's input checks, model-space encoders and decoders and its solver loop (`_integrate`).
    """

    def _check_prediction_inputs(
        self,
        image,
        num_inference_steps: int,
        num_samples: int,
        generator,
        latents: torch.Tensor | None,
        sampling_mode: str | None,
        output_type: str | None,
        callback_on_step_end_tensor_inputs,
    ) -> tuple[torch.Tensor, str]:
        """The checks `segment` and `classify` share; returns the parsed `(pixels [B, C, H, W] in [-1, 1], mode)`."""
        if image is None:
            raise ValueError("Pass the `image` to segment or classify.")
        self._check_common(num_inference_steps, output_type)
        check_positive_int("num_samples", num_samples)
        self._check_callback_tensor_inputs(callback_on_step_end_tensor_inputs)
        mode = self._resolve_sampling_mode(sampling_mode)
        pixels = self.image_processor.preprocess_images(image, self.num_pixel_channels)
        spatial_size = tuple(pixels.shape[-2:])
        self._check_spatial_size(spatial_size, "The image")
        num_images = pixels.shape[0]
        noise_shape = (self.num_label_channels, *(s // self.vae_scale_factor for s in spatial_size))
        self._check_randomness(generator, latents, (num_images * num_samples, *noise_shape), num_images, "images")
        return pixels, mode

    def check_segment_inputs(
        self,
        image,
        num_inference_steps: int,
        num_samples: int,
        generator,
        latents: torch.Tensor | None,
        sampling_mode: str | None,
        output_type: str | None,
        callback_on_step_end_tensor_inputs,
    ) -> tuple[torch.Tensor, str]:
        """All checks of `segment`'s arguments, before any model runs.

        Returns:
            `(pixels, sampling_mode)`: the images, float32 `[B, C, H, W]` in [-1, 1], and the resolved sampling mode.
        """
        if self.config.task != "segmentation":
            raise ValueError(
                f"`segment` needs a segmentation model; this one was trained for {self.config.task}: use `classify`."
            )
        return self._check_prediction_inputs(
            image,
            num_inference_steps,
            num_samples,
            generator,
            latents,
            sampling_mode,
            output_type,
            callback_on_step_end_tensor_inputs,
        )

    def check_classify_inputs(
        self,
        image,
        num_inference_steps: int,
        num_samples: int,
        generator,
        latents: torch.Tensor | None,
        sampling_mode: str | None,
        callback_on_step_end_tensor_inputs,
    ) -> tuple[torch.Tensor, str]:
        """All checks of `classify`'s arguments, before any model runs.

        Returns:
            `(pixels, sampling_mode)`, as `check_segment_inputs`.
        """
        if self.config.task != "classification" and self.config.get("background_class") is None:
            raise ValueError(
                f"`classify` needs a classification model, or a segmentation model with a `background_class`; this "
                f"one was trained for {self.config.task} without one: use `segment`."
            )
        return self._check_prediction_inputs(
            image,
            num_inference_steps,
            num_samples,
            generator,
            latents,
            sampling_mode,
            None,
            callback_on_step_end_tensor_inputs,
        )

    def _predict_label_codes(
        self,
        pixels: torch.Tensor,
        num_samples: int,
        num_inference_steps: int,
        mode: str,
        generator,
        latents: torch.Tensor | None,
        callback_on_step_end: Callable | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] | list[str] = ("latents",),
    ) -> torch.Tensor:
        """Integrate t: 1 -> 0 from `[image | noise]`, `num_samples` times per image of the checked `pixels`.

        Returns the label part of the final state, `[B * num_samples, num_label_channels, h, w]` (the samples of
        image `i` are rows `i * num_samples ... (i + 1) * num_samples - 1`).
        """
        num_images = pixels.shape[0]
        noise_shape = (self.num_label_channels, *(s // self.vae_scale_factor for s in pixels.shape[-2:]))
        device, dtype = self._execution_placement()

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
                `[B, C, H, W]` (float in [0, 1] or [-1, 1]), or a list of these; see `symmflow_image_processing`.
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
            callback_on_step_end: as for `__call__`, with all samples of all images in the batch.
            callback_on_step_end_tensor_inputs: as for `__call__`; here `"latents"` is the label side (laid out as
                the `latents` argument, `[B * num_samples, num_label_channels, h, w]`) and `"pred_original_sample"`
                its clean-end estimate.
                Setting `pipe._interrupt = True` in the callback stops the loop and decodes the label reached.

        Returns:
            `SymmFlowSegmentationOutput` or `tuple`.
        """
        if num_inference_steps is None:
            num_inference_steps = self.config.default_prediction_steps
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs

        # 1. Check and parse the inputs (before any model runs).
        pixels, mode = self.check_segment_inputs(
            image,
            num_inference_steps,
            num_samples,
            generator,
            latents,
            sampling_mode,
            output_type,
            callback_on_step_end_tensor_inputs,
        )
        codes = self._predict_label_codes(
            pixels,
            num_samples,
            num_inference_steps,
            mode,
            generator,
            latents,
            callback_on_step_end,
            callback_on_step_end_tensor_inputs,
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
            callback_on_step_end: as for `segment`.
            callback_on_step_end_tensor_inputs: as for `segment`.

        Returns:
            `SymmFlowClassificationOutput` or `tuple`; `labels` and `scores` are CPU tensors.
        """
        if num_inference_steps is None:
            num_inference_steps = self.config.default_prediction_steps
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs

        # 1. Check and parse the inputs (before any model runs).
        pixels, mode = self.check_classify_inputs(
            image,
            num_inference_steps,
            num_samples,
            generator,
            latents,
            sampling_mode,
            callback_on_step_end_tensor_inputs,
        )
        codes = self._predict_label_codes(
            pixels,
            num_samples,
            num_inference_steps,
            mode,
            generator,
            latents,
            callback_on_step_end,
            callback_on_step_end_tensor_inputs,
        )
        decoding = self.decode_labels(codes)
        if self.config.task == "segmentation":
            # Per-pixel votes as `segment` returns them, then the object class covering the most pixels.
            masks, pixel_scores, _ = self._aggregate_votes(decoding, num_samples)
            labels, scores = self._classify_from_masks(masks, pixel_scores, self.config.get("background_class"))
        else:
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
