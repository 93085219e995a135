# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The exponential moving average of the weights during training: building it (diffusers' `EMAModel`, with the
authors' constant decay as an option) and swapping it in for validation and saving. `checkpointing.py` stores it
(`ema_checkpoint_state`, `load_ema_checkpoint_state`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
from diffusers.training_utils import EMAModel


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
