# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""One way to call any SymmFlow velocity model, shared by the pipeline, training and evaluation."""

import torch


def supports_label_time(model: torch.nn.Module) -> bool:
    """Whether `model` takes the label's noise level as a second time input.

    diffusers UNets (and the toy MLP) declare it with `class_embed_type="timestep"` in their config; the label
    timestep then goes through `class_labels`. Such a model can sample in `conditional` mode.
    """
    config = getattr(model, "config", None)
    return getattr(config, "class_embed_type", None) == "timestep"


def _cast_label_time_embedding_input(model: torch.nn.Module) -> None:
    """Make `UNet2DModel`'s label-time embedding run in the model's dtype.

    `UNet2DModel.forward` feeds the float32 sinusoidal projection of `class_labels` straight into
    `class_embedding` (unlike `UNet2DConditionModel`, which casts it first), so a model moved to float16 / bfloat16 /
    float64 fails with a dtype mismatch outside autocast. A forward pre-hook casts that input; it is not part of the
    state dict, so checkpoints stay plain diffusers models. Registered once per model.
    """
    embedding = getattr(model, "class_embedding", None)
    if not supports_label_time(model) or embedding is None or getattr(embedding, "_symmflow_casts_input", False):
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
    """
    unwrapped_model = model if unwrapped_model is None else unwrapped_model
    _cast_label_time_embedding_input(unwrapped_model)
    batch = sample.shape[0]
    timestep = torch.as_tensor(timestep, device=sample.device, dtype=torch.float32).expand(batch)
    kwargs = {}
    if supports_label_time(unwrapped_model):
        if label_timestep is None:
            raise ValueError("This model takes the label's noise level as a second time input; pass `label_timestep`.")
        kwargs["class_labels"] = torch.as_tensor(label_timestep, device=sample.device, dtype=torch.float32).expand(batch)
    output = model(sample, timestep, **kwargs)
    return output.sample if hasattr(output, "sample") else output
