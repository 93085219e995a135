# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""One way to call any SymmFlow velocity model, shared by the pipeline, training and evaluation."""

from dataclasses import dataclass

import torch


# What the model's label channels predict. "velocity": the paper's v_y (eq. 2). "logits": class logits at every
# pixel (trained with cross-entropy); the clean code is read as 2 softmax - 1 and the velocity derived from it.
LABEL_PREDICTIONS = ("velocity", "logits")
# How the noisy label enters the model. "raw": as is (the paper). "gated": scaled by 1 - s, so at the one-step
# readout (s = 1) the model sees the clean image and zeros where the noise was.
LABEL_INPUTS = ("raw", "gated")
# Below this label noise level the noise in y_s cannot be told apart from the model's error, so a derived velocity
# uses E[noise] = 0 there instead of dividing by s (the first step of a generation starts at s = 0 exactly).
_MIN_LABEL_SIGMA = 1e-3
LABEL_TIME_MODEL = (
    "a UNet that takes the label's noise level as a second time input (config.class_embed_type='timestep': "
    "`symmflow_unet2d_config(..., label_time=True)` or `SymmFlowUNet2DConditionModel.from_stable_diffusion(..., "
    "label_time=True)`) trained with `SymmFlowObjective(label_time='mixed')` or 'independent' "
    "(`examples/train_symmflow.py --label_time mixed`; its default, the paper's 'diagonal', trains none)"
)
"""What to train for the calls that need a label time (`invert`, `edit`, `guidance_scale != 1`), for their errors."""


def check_label_prediction(label_prediction: str, label_encoding: str) -> None:
    """Raise a `ValueError` unless a model whose label channels predict `label_prediction` can use the label code
    `label_encoding`: a logits head reads one channel per class, so it needs the one-hot code (`LabelCodec`).

    The one place this rule lives; the pipeline and the training script's flag checks call it.

    Args:
        label_prediction (`str`): one of `LABEL_PREDICTIONS`.
        label_encoding (`str`): the codec's encoding (`"onehot"`, `"scalar"` or `"palette"`).
    """
    if label_prediction not in LABEL_PREDICTIONS:
        raise ValueError(f"Unknown label prediction {label_prediction!r}; choose one of {LABEL_PREDICTIONS}.")
    if label_prediction == "logits" and label_encoding != "onehot":
        raise ValueError(
            f"label_prediction='logits' reads the label channels as class logits, which needs label_encoding='onehot'; "
            f"got label_encoding={label_encoding!r}. Use label_prediction='velocity' (the paper's) with this code."
        )


@dataclass(frozen=True)
class LabelHead:
    """How a SymmFlow model reads and writes its label channels: the one place that turns its output into velocities.

    The paper's model (`prediction="velocity"`, `input="raw"`, the defaults) takes `[x_t | y_s]` and returns
    `[v_x | v_y]`. With `prediction="logits"` the label channels return class logits instead; the clean code is
    `y_hat = 2 softmax(logits) - 1` (a one-hot code; its posterior mean is `2 p - 1` for the class posterior `p`, so
    the ODE is unchanged at the optimum) and the label velocity follows from eq. 1-2: `v_y = (y_s - y_hat) / s`. One
    Euler step from `s = 1` then lands exactly on `y_hat`, so a one-step segmentation carries no error from
    reproducing the input noise. With `input="gated"` the label channels enter the model scaled by `1 - s`.

    Args:
        num_image_channels (`int`): `C_x`, the leading channels of the sample (image or latent).
        prediction (`str`, defaults to `"velocity"`): one of `LABEL_PREDICTIONS`.
        input (`str`, defaults to `"raw"`): one of `LABEL_INPUTS`.
        num_train_timesteps (`int`, defaults to 1000): the timestep scale; `s = label_timestep / num_train_timesteps`.
    """

    num_image_channels: int
    prediction: str = "velocity"
    input: str = "raw"
    num_train_timesteps: int = 1000

    def __post_init__(self):
        if self.prediction not in LABEL_PREDICTIONS:
            raise ValueError(f"Unknown label prediction {self.prediction!r}; choose one of {LABEL_PREDICTIONS}.")
        if self.input not in LABEL_INPUTS:
            raise ValueError(f"Unknown label input {self.input!r}; choose one of {LABEL_INPUTS}.")

    @property
    def is_paper(self) -> bool:
        """Whether the model's output is the velocity and its input the raw state (no conversion needed)."""
        return self.prediction == "velocity" and self.input == "raw"

    def _label_sigma(self, label_timestep: torch.Tensor | float | None, sample: torch.Tensor) -> torch.Tensor:
        if label_timestep is None:
            raise ValueError(
                f"A model with label prediction {self.prediction!r} and label input {self.input!r} needs the label's "
                "noise level; pass `label_timestep`."
            )
        sigma = torch.as_tensor(label_timestep, device=sample.device, dtype=torch.float32) / self.num_train_timesteps
        return sigma.expand(sample.shape[0]).reshape(-1, *([1] * (sample.ndim - 1)))

    def model_input(self, sample: torch.Tensor, label_timestep: torch.Tensor | float | None) -> torch.Tensor:
        """The tensor the model receives for the state `sample` `[x | y_s]` (`(B, C_x + C_y, ...)`)."""
        if self.input == "raw":
            return sample
        gate = (1 - self._label_sigma(label_timestep, sample)).to(sample.dtype)
        c = self.num_image_channels
        return torch.cat([sample[:, :c], sample[:, c:] * gate], dim=1)

    def clean_label(self, model_output: torch.Tensor) -> torch.Tensor:
        """`y_hat`, the model's estimate of the clean one-hot code (logits models only), same shape as the label."""
        if self.prediction != "logits":
            raise ValueError("`clean_label` reads a logits head; this model predicts the label velocity.")
        logits = model_output[:, self.num_image_channels :].float()
        return (2 * logits.softmax(dim=1) - 1).to(model_output.dtype)

    def velocity(
        self, model_output: torch.Tensor, sample: torch.Tensor, label_timestep: torch.Tensor | float | None
    ) -> torch.Tensor:
        """`[v_x | v_y]` from the model's raw output for the state `sample`."""
        if self.prediction == "velocity":
            return model_output
        c = self.num_image_channels
        sigma = self._label_sigma(label_timestep, sample)
        y_hat = self.clean_label(model_output)
        derived = (sample[:, c:] - y_hat) / sigma.clamp(min=_MIN_LABEL_SIGMA)
        v_y = torch.where(sigma < _MIN_LABEL_SIGMA, -y_hat, derived)
        return torch.cat([model_output[:, :c], v_y.to(model_output.dtype)], dim=1)


def supports_label_time(model: torch.nn.Module) -> bool:
    """Whether `model` takes the label's noise level as a second time input.

    diffusers UNets (and the toy MLP) declare it with `class_embed_type="timestep"` in their config; the label
    timestep then goes through `class_labels`. Such a model can sample in `conditional` mode.
    """
    config = getattr(model, "config", None)
    return getattr(config, "class_embed_type", None) == "timestep"


def prepare_velocity_model(model: torch.nn.Module) -> bool:
    """Get `model` ready for `predict_velocity` and return whether it takes a label time (`supports_label_time`).

    Installs the label-time embedding's dtype cast (once per model, see `_cast_label_time_embedding_input`). A sampling
    loop calls this once per call and passes the result to every `predict_velocity(..., takes_label_time=...)`, so
    neither the check nor the hook lookup is redone per model call; it is read again at the next call, so a UNet
    swapped in between calls is seen.

    Args:
        model: the velocity model (unwrapped: the config is read from it).

    Returns:
        `bool`: whether `model` takes the label's noise level as a second time input.
    """
    takes_label_time = supports_label_time(model)
    _cast_label_time_embedding_input(model, takes_label_time)
    return takes_label_time


def _cast_label_time_embedding_input(model: torch.nn.Module, takes_label_time: bool) -> None:
    """Make `UNet2DModel`'s label-time embedding run in the model's dtype.

    `UNet2DModel.forward` feeds the float32 sinusoidal projection of `class_labels` straight into
    `class_embedding` (unlike `UNet2DConditionModel`, which casts it first), so a model moved to float16 / bfloat16 /
    float64 fails with a dtype mismatch outside autocast. A forward pre-hook casts that input; it is not part of the
    state dict, so checkpoints stay plain diffusers models. Registered once per model.
    """
    embedding = getattr(model, "class_embedding", None)
    if not takes_label_time or embedding is None or getattr(embedding, "_symmflow_casts_input", False):
        return

    def cast_to_weight_dtype(module, args):
        weight = next(module.parameters())
        return (args[0].to(weight.dtype), *args[1:])

    embedding.register_forward_pre_hook(cast_to_weight_dtype)
    embedding._symmflow_casts_input = True


def predict_velocity(
    model: torch.nn.Module,
    sample: torch.Tensor,
    timestep: torch.Tensor | float,
    label_timestep: torch.Tensor | float | None = None,
    *,
    unwrapped_model: torch.nn.Module | None = None,
    label_head: LabelHead | None = None,
    takes_label_time: bool | None = None,
) -> torch.Tensor:
    """Velocity `[v_x | v_y]` for the joint state `sample` (`(B, C_x + C_y, ...)`).

    Args:
        model: a `UNet2DModel`, a `SymmFlowUNet2DConditionModel` (its empty prompt fills `encoder_hidden_states`),
            or any module with the same `forward(sample, timestep, class_labels=None)` signature; may be wrapped
            (DDP, FSDP, `torch.compile`), in which case pass `unwrapped_model` too.
        timestep: the image's noise level times `num_train_timesteps`, a scalar or shape `(B,)`.
        label_timestep: the label's; required by, and only given to, models that `supports_label_time`.
        unwrapped_model: the model inside the wrapper `model` (`accelerator.unwrap_model(model)`). A wrapper has no
            `config`, so whether the model takes the label time is read from this one, while the forward still goes
            through `model` (DDP synchronises gradients only through its wrapper). Defaults to `model`.
        label_head: how the model reads and writes its label channels; `None` is the paper's (velocity out, raw
            state in).
        takes_label_time: what `prepare_velocity_model(unwrapped_model)` returned, from a caller that prepared the
            model once for many calls; `None` prepares it here, at every call.
    """
    output = predict_model_output(
        model,
        sample,
        timestep,
        label_timestep,
        unwrapped_model=unwrapped_model,
        label_head=label_head,
        takes_label_time=takes_label_time,
    )
    if label_head is None:
        return output
    return label_head.velocity(output, sample, label_timestep)


def predict_model_output(
    model: torch.nn.Module,
    sample: torch.Tensor,
    timestep: torch.Tensor | float,
    label_timestep: torch.Tensor | float | None = None,
    *,
    unwrapped_model: torch.nn.Module | None = None,
    label_head: LabelHead | None = None,
    takes_label_time: bool | None = None,
) -> torch.Tensor:
    """The model's raw output for the state `sample` (what the training loss compares; see `predict_velocity`).

    For the paper's model this is the velocity; for a `label_head` with `prediction="logits"` the label channels
    hold class logits. The label head's input rule (`gated`) is applied here. `takes_label_time` as in
    `predict_velocity`.
    """
    if label_head is not None:
        sample = label_head.model_input(sample, label_timestep)
    if takes_label_time is None:
        takes_label_time = prepare_velocity_model(model if unwrapped_model is None else unwrapped_model)
    batch = sample.shape[0]
    timestep = torch.as_tensor(timestep, device=sample.device, dtype=torch.float32).expand(batch)
    kwargs = {}
    if takes_label_time:
        if label_timestep is None:
            raise ValueError("This model takes the label's noise level as a second time input; pass `label_timestep`.")
        kwargs["class_labels"] = torch.as_tensor(label_timestep, device=sample.device, dtype=torch.float32).expand(
            batch
        )
    output = model(sample, timestep, **kwargs)
    return output.sample if hasattr(output, "sample") else output
