# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The symmetric flow-matching training objective (paper eq. 1-3), one equation per method.

Notation follows the paper and `schedulers/scheduling_symmflow.py`: image time `t` (t=0 image noise, t=1 clean
image) and the label's noise level `s` (s=0 clean label, s=1 label noise). The paper ties them, `s = t`; the
`label_time` option also lets `s` be drawn independently so the model learns to hold one side clean (the
`conditional` sampling mode, beyond the paper).

Like the authors' code, the paths carry a small `sigma_min` (1e-4):

    x_t = t x + (1 - (1 - sigma_min) t) xi_x          v_x = x - (1 - sigma_min) xi_x        (eq. 1, 2)
    y_s = (1 - (1 - sigma_min) s) y + s xi_y          v_y = xi_y - (1 - sigma_min) y
    L   = w * mean|v_theta_x - v_x|^2 + (1 - w) * mean|v_theta_y - v_y|^2                 (eq. 3, weighted)

With `sigma_min = 0` these are exactly eq. 1-2. The paper's eq. 3 weighs the two sides by their element counts;
the authors weigh the per-side means with `w = 0.9` (pixel models) or `0.7` (Stable Diffusion latent models), and
so do we (`image_loss_weight`).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.training_utils import compute_density_for_timestep_sampling
from diffusers.utils import BaseOutput

from .models.velocity import LABEL_PREDICTIONS


TIME_SAMPLINGS = ("uniform", "logit_normal")
LABEL_TIMES = ("diagonal", "independent", "mixed")


@dataclass
class SymmFlowTrainingInputs(BaseOutput):
    """One noised training batch, ready for the model.

    Args:
        sample (`torch.Tensor` of shape `(B, C_x + C_y, ...)`): the model input `[x_t | y_s]`.
        timestep (`torch.Tensor` of shape `(B,)`): `(1 - t) * num_train_timesteps`, the image's noise level.
        label_timestep (`torch.Tensor` of shape `(B,)`): `s * num_train_timesteps`, the label's noise level; only
            a model with a label time input reads it.
        target (`torch.Tensor`, same shape as `sample`): `[v_x | v_y]` (eq. 2).
        t (`torch.Tensor` of shape `(B,)`): image time in [0, 1].
        label_sigma (`torch.Tensor` of shape `(B,)`): label noise level `s` in [0, 1].
        image_loss_mask (`torch.Tensor` of shape `(B,)`, bool): the samples that count in the image loss (all, unless
            `readout_probability` placed some at the readout's point and `readout_image_loss` is off).
    """

    sample: torch.Tensor
    timestep: torch.Tensor
    label_timestep: torch.Tensor
    target: torch.Tensor
    t: torch.Tensor
    label_sigma: torch.Tensor
    image_loss_mask: torch.Tensor


@dataclass
class SymmFlowLoss(BaseOutput):
    """`loss` (to back-propagate) and its two unweighted parts, for logging."""

    loss: torch.Tensor
    image_loss: torch.Tensor
    label_loss: torch.Tensor


def _broadcast(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, ...) so per-sample times scale tensors of any rank."""
    return values.reshape(-1, *([1] * (like.ndim - 1))).to(like)


class SymmFlowObjective(ConfigMixin):
    """Builds noised SymmFlow training inputs and their velocity targets, and computes the loss.

    Args:
        sigma_min (`float`, defaults to 1e-4): the authors' minimum noise level; 0 gives the paper's eq. 1-2 exactly.
        image_loss_weight (`float`, defaults to 0.9): `w` in the loss; the authors use 0.9 for pixel-space models and
            0.7 for Stable Diffusion latent models.
        time_sampling (`str`, defaults to `"uniform"`): `"uniform"` (the paper's U(0, 1)) or `"logit_normal"`
            (sigmoid of a normal, as in SD3), with `logit_mean` and `logit_std`.
        label_time (`str`, defaults to `"diagonal"`): how the label's noise level `s` relates to `t`.
            `"diagonal"` is the paper's `s = t`; `"independent"` draws `s` on its own; `"mixed"` uses the diagonal
            with probability `diagonal_probability` and an independent `s` otherwise. Models trained with
            `"independent"` or `"mixed"` need a label time input and can sample in `conditional` mode.
        diagonal_probability (`float`, defaults to 0.5): used by `"mixed"`.
        num_train_timesteps (`int`, defaults to 1000): the scale of the timesteps given to the model; must match
            the scheduler's.
        label_prediction (`str`, defaults to `"velocity"`): what the model's label channels predict (see
            `LabelHead`). `"velocity"` is the paper's MSE on `v_y`; `"logits"` trains class logits with per-pixel
            cross-entropy against the class of the clean one-hot code, which makes the one-step readout learn about
            as fast as a discriminative model (the readout study's section 1c,
            `examples/research_projects/readout_study/README.md`).
        readout_probability (`float`, defaults to 0.0): the share of samples placed exactly at the one-step
            readout's point, `t = 1` (clean image) and `s = 1` (label noise), on top of the time sampling above; 0 is
            the paper's. There the label side is the discriminative task itself.
        readout_image_loss (`bool`, defaults to `False`): whether the samples placed at the readout's point count in
            the image loss too. By default they do not, so the image side keeps the paper's time distribution: at
            `t = 1` the image target's noise part cannot be predicted from the clean image, and the image loss of
            those samples only adds gradient noise (measured to cost generation, the readout study's section 1e).
    """

    # examples/train_symmflow.py saves the objective under this name beside the pipeline it trained (the model card
    # names it), so what a model was trained with travels with it; `from_config(load_config(dir))` rebuilds it.
    config_name = "symmflow_objective.json"

    @register_to_config
    def __init__(
        self,
        sigma_min: float = 1e-4,
        image_loss_weight: float = 0.9,
        time_sampling: str = "uniform",
        logit_mean: float = 0.0,
        logit_std: float = 1.0,
        label_time: str = "diagonal",
        diagonal_probability: float = 0.5,
        num_train_timesteps: int = 1000,
        label_prediction: str = "velocity",
        readout_probability: float = 0.0,
        readout_image_loss: bool = False,
    ):
        if not 0.0 <= sigma_min < 1.0:
            raise ValueError(f"`sigma_min` must lie in [0, 1), got {sigma_min}.")
        if not 0.0 <= image_loss_weight <= 1.0:
            raise ValueError(f"`image_loss_weight` must lie in [0, 1], got {image_loss_weight}.")
        if time_sampling not in TIME_SAMPLINGS:
            raise ValueError(f"Unknown time_sampling {time_sampling!r}; choose one of {TIME_SAMPLINGS}.")
        if logit_std <= 0:
            raise ValueError(f"`logit_std` must be positive, got {logit_std}.")
        if label_time not in LABEL_TIMES:
            raise ValueError(f"Unknown label_time {label_time!r}; choose one of {LABEL_TIMES}.")
        if not 0.0 <= diagonal_probability <= 1.0:
            raise ValueError(f"`diagonal_probability` must lie in [0, 1], got {diagonal_probability}.")
        if not 0.0 <= readout_probability <= 1.0:
            raise ValueError(f"`readout_probability` must lie in [0, 1], got {readout_probability}.")
        if label_prediction not in LABEL_PREDICTIONS:
            raise ValueError(f"Unknown label_prediction {label_prediction!r}; choose one of {LABEL_PREDICTIONS}.")

    @property
    def needs_label_time(self) -> bool:
        """Whether the model must receive the label's noise level as a second time input."""
        return self.config.label_time != "diagonal"

    def _draw_time(self, batch_size: int, device, generator) -> torch.Tensor:
        # diffusers' SD3 sampler: U(0, 1) for "uniform" (its fallback scheme), sigmoid(N(logit_mean, logit_std)) for
        # "logit_normal", drawn from `generator`. Its scripts read the draw as the noise level; here it is the image
        # time t (t = 1 clean), so a positive `logit_mean` leans towards clean images.
        return compute_density_for_timestep_sampling(
            self.config.time_sampling,
            batch_size,
            logit_mean=self.config.logit_mean,
            logit_std=self.config.logit_std,
            device=device,
            generator=generator,
        )

    def sample_times(
        self, batch_size: int, device: str | torch.device = "cpu", generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw the image time `t` and the label noise level `s`, each of shape `(batch_size,)` in [0, 1]."""
        t = self._draw_time(batch_size, device, generator)
        if self.config.label_time == "diagonal":
            s = t.clone()
        else:
            independent = self._draw_time(batch_size, device, generator)
            if self.config.label_time == "independent":
                s = independent
            else:
                on_diagonal = torch.rand(batch_size, device=device, generator=generator)
                s = torch.where(on_diagonal < self.config.diagonal_probability, t, independent)
        if self.config.readout_probability > 0:
            at_readout = torch.rand(batch_size, device=device, generator=generator) < self.config.readout_probability
            t, s = t.masked_fill(at_readout, 1.0), s.masked_fill(at_readout, 1.0)
        return t, s

    def interpolate_image(self, image: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Eq. 1, image side: `x_t = t x + (1 - (1 - sigma_min) t) xi_x`."""
        t = _broadcast(t, image)
        return t * image + (1 - (1 - self.config.sigma_min) * t) * noise

    def interpolate_label(self, label: torch.Tensor, noise: torch.Tensor, label_sigma: torch.Tensor) -> torch.Tensor:
        """Eq. 1, label side: `y_s = (1 - (1 - sigma_min) s) y + s xi_y`."""
        s = _broadcast(label_sigma, label)
        return (1 - (1 - self.config.sigma_min) * s) * label + s * noise

    def target_velocity(
        self, image: torch.Tensor, image_noise: torch.Tensor, label: torch.Tensor, label_noise: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 2: `v_x = x - (1 - sigma_min) xi_x`, `v_y = xi_y - (1 - sigma_min) y`."""
        keep = 1 - self.config.sigma_min
        return image - keep * image_noise, label_noise - keep * label

    def prepare(
        self,
        image: torch.Tensor,
        label: torch.Tensor,
        generator: torch.Generator | None = None,
        image_noise: torch.Tensor | None = None,
        label_noise: torch.Tensor | None = None,
        t: torch.Tensor | None = None,
        label_sigma: torch.Tensor | None = None,
    ) -> SymmFlowTrainingInputs:
        """Noise a batch along the symmetric path.

        Args:
            image (`torch.Tensor` of shape `(B, C_x, ...)`): clean images (or latents), roughly in [-1, 1].
            label (`torch.Tensor` of shape `(B, C_y, ...)`): clean, dequantized label codes in about [-1, 1]; the
                spatial shape must match the image's (a class code is a constant map, paper eq. 9).
            generator: for reproducible noise and times.
            image_noise: a fixed image noise (tests, analysis); drawn when `None`.
            label_noise: a fixed label noise; drawn when `None`.
            t: fixed image noise levels; drawn when `None`.
            label_sigma: fixed label noise levels; drawn when `None`.

        Returns:
            `SymmFlowTrainingInputs`.
        """
        if image.shape[0] != label.shape[0] or image.shape[2:] != label.shape[2:]:
            raise ValueError(
                f"Image {tuple(image.shape)} and label {tuple(label.shape)} must share the batch size and spatial "
                "shape; encode class labels as constant maps of the image's size."
            )
        batch = image.shape[0]
        if t is None or label_sigma is None:
            drawn_t, drawn_s = self.sample_times(batch, image.device, generator)
            t = drawn_t if t is None else t
            label_sigma = drawn_s if label_sigma is None else label_sigma
        if image_noise is None:
            image_noise = torch.randn(image.shape, device=image.device, dtype=image.dtype, generator=generator)
        if label_noise is None:
            label_noise = torch.randn(label.shape, device=label.device, dtype=label.dtype, generator=generator)

        x_t = self.interpolate_image(image, image_noise, t)
        y_s = self.interpolate_label(label, label_noise, label_sigma)
        v_x, v_y = self.target_velocity(image, image_noise, label, label_noise)
        scale = self.config.num_train_timesteps
        image_loss_mask = torch.ones(batch, dtype=torch.bool, device=image.device)
        if self.config.readout_probability > 0 and not self.config.readout_image_loss:
            image_loss_mask = ~((t == 1) & (label_sigma == 1))
        return SymmFlowTrainingInputs(
            sample=torch.cat([x_t, y_s], dim=1),
            timestep=(1 - t) * scale,
            label_timestep=label_sigma * scale,
            target=torch.cat([v_x, v_y], dim=1),
            t=t,
            label_sigma=label_sigma,
            image_loss_mask=image_loss_mask,
        )

    @staticmethod
    def image_loss(
        model_output: torch.Tensor,
        target: torch.Tensor,
        num_image_channels: int,
        image_loss_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The image side of eq. 3: the mean squared velocity error over the first `num_image_channels` channels,
        averaged over the samples in `image_loss_mask` (`SymmFlowTrainingInputs.image_loss_mask`; 0 when there are
        none) or over every sample when it is `None`."""
        c = num_image_channels
        squared = (model_output[:, :c].float() - target[:, :c].float()) ** 2
        if image_loss_mask is None:
            return squared.mean()
        per_sample = squared.flatten(1).mean(dim=1)
        return (per_sample * image_loss_mask).sum() / image_loss_mask.sum().clamp(min=1)

    def loss(
        self,
        model_output: torch.Tensor,
        target: torch.Tensor,
        num_image_channels: int,
        label: torch.Tensor | None = None,
        image_loss_mask: torch.Tensor | None = None,
    ) -> SymmFlowLoss:
        """Eq. 3 with the authors' per-side weighting: `w * image_loss + (1 - w) * label_loss`.

        Args:
            model_output (`torch.Tensor` of shape `(B, C_x + C_y, ...)`): the model's raw output: `[v_x | v_y]`, or
                `[v_x | logits]` with `label_prediction="logits"`.
            target (`torch.Tensor`, same shape): `SymmFlowTrainingInputs.target`.
            num_image_channels (`int`): `C_x`.
            label (`torch.Tensor` of shape `(B, C_y, ...)`, *optional*): the clean (dequantized) one-hot code given
                to `prepare`; required with `label_prediction="logits"`, whose targets are its per-pixel argmax.
            image_loss_mask (`torch.Tensor` of shape `(B,)`, *optional*): `SymmFlowTrainingInputs.image_loss_mask`;
                the image loss is the mean over these samples (0 when there are none). Default: every sample.
        """
        if model_output.shape != target.shape:
            raise ValueError(f"Model output {tuple(model_output.shape)} does not match target {tuple(target.shape)}.")
        c = num_image_channels
        image_loss = self.image_loss(model_output, target, c, image_loss_mask)
        if self.config.label_prediction == "velocity":
            label_loss = ((model_output[:, c:].float() - target[:, c:].float()) ** 2).mean()
        else:
            if label is None or label.shape != target[:, c:].shape:
                raise ValueError(
                    "label_prediction='logits' needs the clean one-hot code given to `prepare` as `label`, of shape "
                    f"{tuple(target[:, c:].shape)}; got {None if label is None else tuple(label.shape)}."
                )
            label_loss = F.cross_entropy(model_output[:, c:].float(), label.argmax(dim=1))
        weight = self.config.image_loss_weight
        return SymmFlowLoss(
            loss=weight * image_loss + (1 - weight) * label_loss, image_loss=image_loss, label_loss=label_loss
        )
