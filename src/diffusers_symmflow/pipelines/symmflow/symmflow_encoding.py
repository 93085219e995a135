# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Between the data and the model's state: images and class ids to the model space of `SymmFlowPipeline` and back.

Pixel-space models take the images and the label codec's code as they are; latent models pass both (the masks as
palette colours) through the VAE. Training and evaluation encode and decode through these methods too.
"""

import torch

from ...labels import LabelDecoding


class SymmFlowEncodingMixin:
    """Data <-> model space for `SymmFlowPipeline` (mixed into it). Reads the host's `vae` and `label_codec`."""

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

    def _output_images(self, sample: torch.Tensor, output_type: str):
        """The image side of a final joint state `sample` as `output_type` asks: `"latent"` as it is (model space),
        else decoded and post-processed to `"pil"` / `"np"` / `"pt"` by the image processor."""
        images = sample[:, : self.num_image_channels]
        if output_type == "latent":
            return images
        return self.image_processor.postprocess(self.decode_images(images), output_type=output_type)
