# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Sampling scheduler for Symmetrical Flow Matching (SymmFlow).

Time convention (paper, eq. 1; the same in every file of this package)
----------------------------------------------------------------------
The paper's time ``t`` runs from 0 to 1 along one straight path that joins two pairs of end points:

* ``t = 0``: (image noise ``xi_x``, clean label ``y``)
* ``t = 1``: (clean image ``x``, label noise ``xi_y``)

so ``x_t = (1 - t) xi_x + t x`` and ``y_t = (1 - t) y + t xi_y``. Each side therefore has a *noise level*:
the image's is ``sigma_x = 1 - t`` and the label's is ``sigma_y = t``. On the paper's path the two are tied
(``sigma_x + sigma_y = 1``); a model trained with a second, label-side time (see ``SymmFlowObjective`` and the
``conditional`` sampling mode below) may see them independently.

What the model receives
-----------------------
``timestep = sigma_x * num_train_timesteps``, i.e. ``(1 - t) * 1000``: the image's noise level on diffusers'
0-1000 scale, the convention of ``FlowMatchEulerDiscreteScheduler``. The authors pass raw ``t``; any monotone
map works when training and sampling agree, and this one keeps a Stable Diffusion UNet's pretrained timestep
embedding meaning what it meant (1000 = pure image noise). A model with a second time input additionally
receives ``label_timestep = sigma_y * num_train_timesteps`` (through diffusers' ``class_labels`` argument with
``class_embed_type="timestep"``).

Directions and modes
--------------------
* ``direction="forward"`` (generation): ``t`` goes 0 -> 1, from (noise, label) to (image, noise).
* ``direction="reverse"`` (segmentation / classification, paper eq. 8): ``t`` goes 1 -> 0, from
  (image, noise) to (noise, label); the label is read at the end.
* ``mode="joint"`` is the paper's ODE: both sides move together with the same ``dt``.
* ``mode="conditional"`` (beyond the paper, needs a model with a label time): the given side stays at its clean
  end point (noise level 0) and only the other side is integrated.
* ``invert=True`` walks the grid of ``direction`` backwards: the side that ``direction`` generates goes from its
  clean end back to noise (with ``mode="conditional"`` and ``direction="forward"``: an image back to the noise that
  generates it from its mask, what ``SymmFlowPipeline.invert`` and ``edit`` do).

The model's output is a velocity laid out on the channel axis as ``[v_x | v_y]``, with ``v_x = dx/dt`` and
``v_y = dy/d(sigma_y)`` (paper eq. 2), so an Euler step moves the image by ``(sigma_x - sigma_x_next) * v_x``
and the label by ``(sigma_y_next - sigma_y) * v_y``; on the joint path both factors equal ``t_next - t``.
"""

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import ModelMixin, SchedulerMixin  # noqa: F401  (the pipeline loader looks these up by name here)
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.utils import BaseOutput

from ..inputs import check_positive_int


DIRECTIONS = ("forward", "reverse")
SAMPLING_MODES = ("joint", "conditional")
"""The sampling modes; the pipeline, evaluation and the examples read this tuple."""
SOLVERS = ("euler", "heun")
MAX_INFERENCE_STEPS = 10_000
"""The most solver steps `set_timesteps` (and the pipeline's calls) accept. The time grid is built whole, so an
unbounded count is a memory bomb (a billion steps was killed at 23 GB before any model call); the paper samples with
1 to 25 steps."""


def check_inference_steps(num_inference_steps) -> int:
    """Raise a `ValueError` naming `num_inference_steps` unless it is an integer in [1, `MAX_INFERENCE_STEPS`]."""
    check_positive_int("num_inference_steps", num_inference_steps)
    if num_inference_steps > MAX_INFERENCE_STEPS:
        raise ValueError(
            f"`num_inference_steps` must be at most {MAX_INFERENCE_STEPS:,} (the time grid is built whole), got "
            f"{num_inference_steps:,}."
        )
    return int(num_inference_steps)


@dataclass
class SymmFlowSchedulerOutput(BaseOutput):
    """Output of `SymmFlowScheduler.step`.

    Args:
        prev_sample (`torch.Tensor` of shape `(batch, C_x + C_y, ...)`):
            The joint state `[x | y]` after the step; feed it to the model at the next timestep.
        pred_original_sample (`torch.Tensor`, same shape):
            A one-jump estimate of both clean end points from the current state, `[x + sigma_x v_x | y - sigma_y v_y]`
            (image at t=1, label at t=0). Useful for previews in `callback_on_step_end`.
    """

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


class SymmFlowScheduler(SchedulerMixin, ConfigMixin):
    """Euler / Heun ODE solver for SymmFlow that advances an image and its label jointly, in either direction.

    See the module docstring for the time convention. Typical use::

        scheduler.set_timesteps(25, direction="forward")            # generation
        for i, t in enumerate(scheduler.timesteps):
            v = model(sample, t, class_labels=scheduler.label_timesteps[i]).sample  # label time: only if the model has one
            sample = scheduler.step(v, t, sample, num_image_channels=3).prev_sample

    Args:
        num_train_timesteps (`int`, defaults to 1000):
            Scale of the timestep the model receives: `timestep = noise_level * num_train_timesteps`.
        solver (`str`, defaults to `"euler"`):
            `"euler"` (the paper's; one model call per step, exact on straight paths) or `"heun"` (second order, two
            model calls per step; better on curved learned fields at the same number of calls for many steps).
        shift (`float`, defaults to 1.0):
            Time shift as in `FlowMatchEulerDiscreteScheduler`: the noise level `s` of the side being generated
            (the image going forward, the label in reverse) is warped to `shift * s / (1 + (shift - 1) * s)`, so
            `shift > 1` spends more steps at high noise. 1.0 gives the paper's uniform grid.
    """

    _compatibles = []

    @register_to_config
    def __init__(self, num_train_timesteps: int = 1000, solver: str = "euler", shift: float = 1.0):
        if solver not in SOLVERS:
            raise ValueError(f"Unknown solver {solver!r}; choose one of {SOLVERS}.")
        if shift <= 0:
            raise ValueError(f"`shift` must be positive, got {shift}.")
        if num_train_timesteps <= 0:
            raise ValueError(f"`num_train_timesteps` must be positive, got {num_train_timesteps}.")
        self.num_inference_steps = None
        self.direction = None
        self.mode = None
        self.invert = None
        self.sigmas = None
        self.label_sigmas = None
        self.timesteps = None
        self.label_timesteps = None
        self._step_index = None
        self._begin_index = None
        self._first_stage = None  # Heun: (sample, increment) kept between the two model calls of one step

    def __len__(self) -> int:
        """`num_train_timesteps`, as diffusers' schedulers return."""
        return self.config.num_train_timesteps

    @property
    def order(self) -> int:
        """Model calls per step (diffusers pipelines read this for their progress bars)."""
        return 2 if self.config.solver == "heun" else 1

    @property
    def step_index(self) -> int | None:
        """Index of the next model call in `timesteps`."""
        return self._step_index

    @property
    def begin_index(self) -> int | None:
        return self._begin_index

    def set_begin_index(self, begin_index: int = 0) -> None:
        """Start the next loop at `timesteps[begin_index]` (as diffusers' img2img pipelines do).

        Without it, the first `step` finds its place from its `timestep` (see `index_for_timestep`).
        """
        self._begin_index = begin_index

    def index_for_timestep(self, timestep: float | torch.Tensor) -> int:
        """The index in `timesteps` of the model call that starts a solver step at `timestep`.

        What the first `step` of a loop uses when `set_begin_index` was not called, so a loop over `timesteps[k:]`
        (diffusers' img2img pattern) starts at call `k`, as with `FlowMatchEulerDiscreteScheduler`.

        Args:
            timestep (`float` or `torch.Tensor`): a value of `timesteps` (the one given to the model).

        Returns:
            `int`: the index of the first call of a solver step (Heun's second calls repeat the next step's
            timestep and are skipped) whose timestep is `timestep`. When several steps start at that value (the
            held side of `mode="conditional"` stays at timestep 0 throughout), the first of them; call
            `set_begin_index` to start elsewhere.

        Raises:
            ValueError: when no step of the schedule starts at `timestep`.
        """
        if self.timesteps is None:
            raise ValueError("Call `set_timesteps(...)` before looking up a timestep.")
        value = float(timestep)
        starts = self.timesteps[:: self.order]
        matches = torch.nonzero(torch.abs(starts - value) <= self._timestep_tolerance).flatten()
        if len(matches) == 0:
            raise ValueError(
                f"`timestep` {value:g} is not a step of this schedule (its steps start at "
                f"{[round(float(t), 4) for t in starts[:5]]}{' ...' if len(starts) > 5 else ''}); pass the values of "
                "`scheduler.timesteps`."
            )
        return int(matches[0]) * self.order

    @property
    def _timestep_tolerance(self) -> float:
        # Timesteps are float32 values on the 0..num_train_timesteps scale; a millionth of the scale absorbs the
        # rounding of a float / tensor round trip and stays far below the spacing of MAX_INFERENCE_STEPS steps.
        return 1e-6 * self.config.num_train_timesteps

    def _shift(self, noise_level: np.ndarray) -> np.ndarray:
        shift = self.config.shift
        return shift * noise_level / (1 + (shift - 1) * noise_level)

    def set_timesteps(
        self,
        num_inference_steps: int,
        direction: str = "forward",
        mode: str = "joint",
        device: str | torch.device | None = None,
        invert: bool = False,
    ) -> None:
        """Build the integration grid.

        Args:
            num_inference_steps (`int`): number of solver steps, from 1 to `MAX_INFERENCE_STEPS` (10,000). Heun
                makes two model calls per step.
            direction (`str`, defaults to `"forward"`):
                `"forward"` integrates t: 0 -> 1 (labels to images); `"reverse"` integrates t: 1 -> 0 (images to
                labels, paper eq. 8).
            mode (`str`, defaults to `"joint"`):
                `"joint"` is the paper's ODE; `"conditional"` holds the given side clean (noise level 0) and
                integrates only the other side. Needs a model trained with a label time.
            device: where `timesteps` and `label_timesteps` live.
            invert (`bool`, defaults to `False`): walk the grid of `direction` backwards, so the side it generates
                goes from clean to noise (inversion). Euler inversion is exact for velocities that do not change along
                the path and approximate otherwise; more steps make it closer.

        Sets `sigmas` / `label_sigmas` (noise levels of image and label at the `num_inference_steps + 1` grid
        points), and `timesteps` / `label_timesteps` (what the model receives at each call, `order` calls per
        step).
        """
        check_inference_steps(num_inference_steps)
        if direction not in DIRECTIONS:
            raise ValueError(
                f"Unknown direction {direction!r}; use 'forward' (generate images from labels, t: 0 -> 1) or "
                "'reverse' (segment / classify images, t: 1 -> 0)."
            )
        if mode not in SAMPLING_MODES:
            raise ValueError(f"Unknown sampling mode {mode!r}; choose one of {SAMPLING_MODES}.")

        # Noise level of the side being generated, from pure noise to clean.
        generated = self._shift(np.linspace(1.0, 0.0, num_inference_steps + 1))
        if mode == "joint":
            given = 1.0 - generated  # the paper's diagonal: the given side turns into noise meanwhile
        else:
            given = np.zeros_like(generated)
        image_sigmas, label_sigmas = (generated, given) if direction == "forward" else (given, generated)
        if invert:
            image_sigmas, label_sigmas = image_sigmas[::-1].copy(), label_sigmas[::-1].copy()

        self.sigmas = torch.from_numpy(image_sigmas).to(device=device, dtype=torch.float32)
        self.label_sigmas = torch.from_numpy(label_sigmas).to(device=device, dtype=torch.float32)
        # Heun evaluates the model at both ends of every step: grid points 0,1, 1,2, 2,3, ...
        call_points = np.arange(num_inference_steps)
        if self.order == 2:
            call_points = np.stack([call_points, call_points + 1], axis=1).reshape(-1)
        scale = self.config.num_train_timesteps
        self.timesteps = self.sigmas[call_points] * scale
        self.label_timesteps = self.label_sigmas[call_points] * scale
        self.num_inference_steps = num_inference_steps
        self.direction = direction
        self.mode = mode
        self.invert = invert
        self._step_index = None
        self._begin_index = None
        self._first_stage = None

    @staticmethod
    def _per_channel(
        image_value: torch.Tensor, label_value: torch.Tensor, num_image_channels: int, like: torch.Tensor
    ) -> torch.Tensor:
        """`[1, C, 1, ...]` (broadcasting against `like`) with `image_value` on the image channels and `label_value`
        on the label ones, in `like`'s dtype: one multiply then treats both sides, with no slicing and re-joining of
        the full state (the products are those of the per-side expressions, bit for bit)."""
        num_channels = like.shape[1]
        values = torch.cat(
            [
                image_value.reshape(1).expand(num_image_channels),
                label_value.reshape(1).expand(num_channels - num_image_channels),
            ]
        ).to(like)
        return values.reshape(1, num_channels, *([1] * (like.ndim - 2)))

    def _increment(self, model_output: torch.Tensor, grid_index: int, num_image_channels: int) -> torch.Tensor:
        """Euler increment `[(sigma_x - sigma_x') v_x | (sigma_y' - sigma_y) v_y]` for grid step `grid_index`."""
        d_image = self.sigmas[grid_index] - self.sigmas[grid_index + 1]
        d_label = self.label_sigmas[grid_index + 1] - self.label_sigmas[grid_index]
        return model_output * self._per_channel(d_image, d_label, num_image_channels, model_output)

    def step(
        self,
        model_output: torch.Tensor,
        timestep: float | torch.Tensor,
        sample: torch.Tensor,
        num_image_channels: int,
        return_dict: bool = True,
    ) -> SymmFlowSchedulerOutput | tuple:
        """Advance the joint state `[x | y]` by one model call.

        Args:
            model_output (`torch.Tensor` of shape `(batch, C_x + C_y, ...)`): the predicted velocity `[v_x | v_y]`.
            timestep (`float` or `torch.Tensor`): the value given to the model, one of `timesteps`. The first step of
                a loop finds its place from it (`index_for_timestep`) unless `set_begin_index` was called; later
                steps must agree with the position the scheduler tracks (in conditional mode every timestep of the
                held side is 0, so the value alone cannot place a step).
            sample (`torch.Tensor`, same shape): the current state `[x_t | y_t]`.
            num_image_channels (`int`): `C_x`, where the image part ends on the channel axis. The label part may
                have any number of channels (1 for a scalar class map, K for one-hot, 4 latent channels...).
            return_dict (`bool`, defaults to `True`): return a `SymmFlowSchedulerOutput` rather than a tuple.

        Returns:
            `SymmFlowSchedulerOutput`, or the tuple `(prev_sample, pred_original_sample)`.

        Raises:
            ValueError: before `set_timesteps`, for mismatched shapes, after the last call, or when `timestep` is not
                the timestep of the call the scheduler is at.
        """
        if self.timesteps is None:
            raise ValueError("Call `set_timesteps(...)` before `step(...)`.")
        if model_output.shape != sample.shape:
            raise ValueError(
                f"`model_output` has shape {tuple(model_output.shape)} but `sample` has {tuple(sample.shape)}; the "
                "model must predict one velocity channel per input channel."
            )
        if not 0 < num_image_channels < sample.shape[1]:
            raise ValueError(
                f"`num_image_channels` must lie strictly between 0 and the {sample.shape[1]} channels of `sample`, "
                f"got {num_image_channels}."
            )
        if self._step_index is None:
            self._step_index = self.index_for_timestep(timestep) if self._begin_index is None else self._begin_index
        if self._step_index >= len(self.timesteps):
            raise ValueError(
                f"All {len(self.timesteps)} model calls of this schedule are done; call `set_timesteps` again."
            )
        expected = float(self.timesteps[self._step_index])
        if abs(float(timestep) - expected) > self._timestep_tolerance:
            raise ValueError(
                f"`timestep` {float(timestep):g} disagrees with the scheduler's position: model call "
                f"{self._step_index} of this schedule is at timestep {expected:g}. Pass the timesteps in the order of "
                "`scheduler.timesteps` (or call `set_begin_index` before starting a loop part-way)."
            )

        grid_index = self._step_index // self.order
        point = grid_index + self._step_index % self.order
        # One-jump estimate of both clean ends from the current state (image at noise 0, label at noise 0).
        pred_original = sample + model_output * self._per_channel(
            self.sigmas[point], -self.label_sigmas[point], num_image_channels, sample
        )

        increment = self._increment(model_output.float(), grid_index, num_image_channels)
        if self.order == 1:
            prev_sample = sample.float() + increment
        elif self._first_stage is None:
            # Heun, first call: take the Euler step as a predictor; the second call corrects it.
            self._first_stage = (sample, increment)
            prev_sample = sample.float() + increment
        else:
            start, first_increment = self._first_stage
            self._first_stage = None
            prev_sample = start.float() + 0.5 * (first_increment + increment)
        prev_sample = prev_sample.to(sample.dtype)
        self._step_index += 1

        if not return_dict:
            return prev_sample, pred_original
        return SymmFlowSchedulerOutput(prev_sample=prev_sample, pred_original_sample=pred_original)
