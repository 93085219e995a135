# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The ODE solver loop every entry point of `SymmFlowPipeline` shares (`__call__`, `segment`, `classify`, `invert`,
`edit`): where and in which dtype a call runs, the initial noise, classifier-free guidance and the loop itself."""

from typing import Callable

import torch
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.utils.torch_utils import randn_tensor

from ...models import predict_velocity
from ...models.velocity import prepare_velocity_model


def _first_tensor(module: torch.nn.Module) -> list[torch.Tensor]:
    """The first parameter of `module`, else its first buffer, as a list of at most one (diffusers' device rule)."""
    for tensor in module.parameters():
        return [tensor]
    for tensor in module.buffers():
        return [tensor]
    return []


class SymmFlowSamplingMixin:
    """Sampling for `SymmFlowPipeline` (mixed into it). Reads the host's `unet`, `vae`, `scheduler`, `label_head`,
    `num_image_channels` and diffusers' progress bar."""

    def _execution_placement(self) -> tuple[torch.device, torch.dtype]:
        """`(self._execution_device, self.unet.dtype)`: where this call's tensors go and the dtype they take.

        diffusers reads both by walking every module of every component, several times over (group-offloading
        hooks, accelerate hooks, layerwise-casting hooks, then the first parameter): about 1 ms for the quickstart
        UNet, 2% of a one-step `segment` at batch 16 on CPU. One walk over the modules' own attributes finds
        whether any such hook is installed; without one the answers are the first parameter's device (the first
        component not on CPU, as `DiffusionPipeline.device` prefers) and the UNet's first floating dtype, read
        directly; with one, or with modules kept in float32, diffusers' own lookups answer.
        """
        # The model components in the order of `components` (read by name: `components` inspects `__init__`'s
        # signature on every access).
        modules = [module for module in (self.vae, self.unet) if isinstance(module, torch.nn.Module)]
        hooked = any(
            "_hf_hook" in sub.__dict__ or "_diffusers_hook" in sub.__dict__
            for module in modules
            for sub in module.modules()
        )
        if hooked or not modules or getattr(self.unet, "_keep_in_fp32_modules", None):
            return self._execution_device, self.unet.dtype
        devices = [tensor.device for module in modules for tensor in _first_tensor(module)]
        device = next((d for d in devices if d.type not in ("cpu", "meta")), devices[0] if devices else None)
        dtype = next((p.dtype for p in self.unet.parameters() if p.is_floating_point()), None)
        if device is None or dtype is None:
            return self._execution_device, self.unet.dtype
        return device, dtype

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
        takes_label_time: bool = True,
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

        `takes_label_time` is what `prepare_velocity_model` returned for the call (always true here: guidance needs a
        label time).

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
            self.unet,
            torch.cat([sample, unconditional]),
            timestep,
            label_timesteps,
            label_head=self.label_head,
            takes_label_time=takes_label_time,
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
        # Once per call, not per model call: the channel split, whether the UNet takes a label time, its dtype hook.
        c = self.num_image_channels
        takes_label_time = prepare_velocity_model(self.unet)
        with self.progress_bar(total=len(timesteps)) as progress_bar:
            for i, t in enumerate(timesteps):
                if self.interrupt:
                    continue
                if self.do_classifier_free_guidance:
                    if unconditional_label is None:
                        raise ValueError(
                            f"`pipe._guidance_scale` is {self.guidance_scale!r} before model call {i}, set by "
                            "`callback_on_step_end`, but this call started without guidance (`guidance_scale=1`), so "
                            "it has no unconditional label noise to guide with. Start the call with the "
                            "`guidance_scale` you want; a callback can switch guidance off (`pipe._guidance_scale = "
                            "1.0`), not on."
                        )
                    velocity = self._guided_velocity(
                        sample, t, label_timesteps[i], unconditional_label, takes_label_time=takes_label_time
                    )
                else:
                    velocity = predict_velocity(
                        self.unet,
                        sample,
                        t,
                        label_timesteps[i],
                        label_head=self.label_head,
                        takes_label_time=takes_label_time,
                    )
                step = self.scheduler.step(velocity, t, sample, c)
                sample = step.prev_sample
                if callback_on_step_end is not None:
                    # `latents` is the side this call integrates (the image going forward, the label in reverse),
                    # laid out as the call's `latents=` argument; `image_latents` / `label_latents` name each side.
                    moving = slice(None, c) if direction == "forward" else slice(c, None)
                    offered = {
                        "latents": sample[:, moving],
                        "image_latents": sample[:, :c],
                        "label_latents": sample[:, c:],
                        "pred_original_sample": step.pred_original_sample[:, moving],
                    }
                    callback_kwargs = {name: offered[name] for name in callback_on_step_end_tensor_inputs}
                    callback_outputs = callback_on_step_end(self, i, t, callback_kwargs)
                    sides = [
                        callback_outputs.pop("image_latents", sample[:, :c]),
                        callback_outputs.pop("label_latents", sample[:, c:]),
                    ]
                    if "latents" in callback_outputs:
                        sides[0 if direction == "forward" else 1] = callback_outputs.pop("latents")
                    sample = torch.cat(sides, dim=1)
                progress_bar.update()
        return sample
