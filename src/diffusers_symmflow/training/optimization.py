# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Learning-rate schedules: the authors' one-cycle schedule beside diffusers' `get_scheduler`."""

from __future__ import annotations

import torch
from diffusers.optimization import get_scheduler


ONE_CYCLE_START_LR = 1e-6
"""torch's OneCycleLR as the authors configure it runs from this learning rate up to the peak and back down to it."""


def make_lr_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    learning_rate: float,
    num_warmup_steps: int,
    num_training_steps: int,
) -> torch.optim.lr_scheduler.LRScheduler:
    """A learning-rate schedule by name.

    Args:
        name (`str`): `"one_cycle"`: torch's OneCycleLR as the authors configure it (from `ONE_CYCLE_START_LR` up to
            `learning_rate` by a cosine over the warm-up, then down to `ONE_CYCLE_START_LR` by a cosine); any other
            name: diffusers' `get_scheduler` (`"cosine"`, `"linear"`, `"constant"`, ...), whose warm-up is linear
            from 0.
        optimizer (`torch.optim.Optimizer`): the optimizer whose learning rate is scheduled.
        learning_rate (`float`): the peak learning rate (`"one_cycle"` only; diffusers' schedules take the
            optimizer's).
        num_warmup_steps (`int`): steps up to the peak (`"one_cycle"`: at least 2 and at most
            `num_training_steps - 1`, as OneCycleLR divides by each phase's length minus one).
        num_training_steps (`int`): steps in all (`"one_cycle"`: at least 3).

    Returns:
        `torch.optim.lr_scheduler.LRScheduler`, stepped once per optimisation step.

    Raises:
        ValueError: for `"one_cycle"` with fewer than 3 `num_training_steps`.
    """
    if name != "one_cycle":
        return get_scheduler(
            name, optimizer=optimizer, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps
        )
    if num_training_steps < 3:
        raise ValueError(f"The one_cycle schedule needs at least 3 training steps, got {num_training_steps}.")
    # OneCycleLR's phases must each span at least two steps (it divides by their length minus one).
    num_warmup_steps = min(max(num_warmup_steps, 2), num_training_steps - 1)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=learning_rate,
        total_steps=num_training_steps,
        pct_start=num_warmup_steps / num_training_steps,
        anneal_strategy="cos",
        cycle_momentum=False,
        div_factor=learning_rate / ONE_CYCLE_START_LR,
        final_div_factor=1.0,
    )
