# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The exponential moving average of the weights during training: building it (diffusers' `EMAModel`, with the
authors' constant decay as an option), swapping it in for validation and saving, and storing it in checkpoints
without pickle.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from diffusers.training_utils import EMAModel

from .checkpointing import _load_legacy_pickle, load_shared_state


# Where accelerate's `register_for_checkpointing` put the EMA in earlier versions (a pickle).
LEGACY_EMA_FILE = "custom_checkpoint_0.pkl"


def make_ema(parameters: Iterable[torch.nn.Parameter], decay: float, constant_decay: bool = False) -> EMAModel:
    """A diffusers `EMAModel` of `parameters`.

    Args:
        parameters (`Iterable[torch.nn.Parameter]`): the trained parameters.
        decay (`float`): the EMA decay in [0, 1] (the authors': 0.999; 0.9 in their Stable Diffusion runs).
        constant_decay (`bool`, defaults to `False`): use `decay` at every update, as the authors do, instead of
            diffusers' ramp `min(decay, (1 + n) / (10 + n))`. Either way `EMAModel`'s first update copies the weights
            (its decay is 0 there).

    Returns:
        `EMAModel`; `ema_checkpoint_state` / `load_ema_checkpoint_state` store and restore it.
    """
    # EMAModel's floor `min_decay = decay` turns its ramp into the authors' constant decay.
    return EMAModel(parameters, decay=decay, min_decay=decay if constant_decay else 0.0)


@contextlib.contextmanager
def ema_weights(ema, parameters: Iterable[torch.nn.Parameter]) -> Iterator[None]:
    """Inside the block, `parameters` hold the EMA weights of `ema` (a diffusers `EMAModel`); restored on exit.

    With `ema=None` the block runs on the trained weights.
    """
    if ema is None:
        yield
        return
    parameters = list(parameters)
    ema.store(parameters)
    ema.copy_to(parameters)
    try:
        yield
    finally:
        ema.restore(parameters)


def ema_checkpoint_state(ema) -> dict[str, Any]:
    """The state of a diffusers `EMAModel` as `save_checkpoint`'s `shared_state` takes it (tensors at the top level:
    `ema.shadow_params.<i>`; the rest under `ema`)."""
    state = ema.state_dict()
    shadow = {f"ema.shadow_params.{index}": tensor for index, tensor in enumerate(state.pop("shadow_params"))}
    return {"ema": state, **shadow}


def load_ema_checkpoint_state(ema, path: str) -> None:
    """Restore a diffusers `EMAModel` from a checkpoint: from its shared state (`ema_checkpoint_state`), or from the
    `custom_checkpoint_0.pkl` that accelerate wrote in earlier versions, read with `weights_only=True`.

    Raises:
        ValueError: if the checkpoint holds no EMA, or an unreadable one.
    """
    shared = load_shared_state(path) or {}
    if "ema" in shared:
        count = sum(key.startswith("ema.shadow_params.") for key in shared)
        state = {**shared["ema"], "shadow_params": [shared[f"ema.shadow_params.{index}"] for index in range(count)]}
    elif os.path.isfile(os.path.join(path, LEGACY_EMA_FILE)):
        state = _load_legacy_pickle(os.path.join(path, LEGACY_EMA_FILE))
    else:
        raise ValueError(f"{path} holds no EMA weights (it was saved without an EMA).")
    if len(state["shadow_params"]) != len(ema.shadow_params):
        raise ValueError(
            f"{path} holds EMA weights of {len(state['shadow_params'])} tensors; this model trains "
            f"{len(ema.shadow_params)}."
        )
    ema.load_state_dict(state)
