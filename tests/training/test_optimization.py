"""Learning-rate schedules: the authors' one-cycle schedule and diffusers' by name."""

import pytest
import torch

from diffusers_symmflow.training.optimization import ONE_CYCLE_START_LR, make_lr_scheduler


def rates(name: str, learning_rate: float, num_warmup_steps: int, num_training_steps: int) -> list[float]:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=learning_rate)
    schedule = make_lr_scheduler(
        name,
        optimizer,
        learning_rate=learning_rate,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
    )
    seen = []
    for _ in range(num_training_steps):
        seen.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    return seen


def test_one_cycle_schedule_is_the_authors():
    seen = rates("one_cycle", 5e-4, num_warmup_steps=10, num_training_steps=100)
    # From 1e-6 up to the peak at the end of the warm-up, then back down to 1e-6.
    assert seen[0] == pytest.approx(ONE_CYCLE_START_LR) == pytest.approx(1e-6)
    assert max(seen) == pytest.approx(5e-4) and abs(seen.index(max(seen)) - 10) <= 1
    assert seen[-1] < 1e-5


def test_other_names_are_diffusers_schedules_and_one_cycle_needs_three_steps():
    # diffusers' cosine: a linear warm-up from 0.
    seen = rates("cosine", 1e-3, num_warmup_steps=4, num_training_steps=20)
    assert seen[:5] == pytest.approx([0.0, 2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert rates("constant", 1e-3, num_warmup_steps=0, num_training_steps=3) == pytest.approx([1e-3] * 3)
    with pytest.raises(ValueError, match="at least 3 training steps, got 2"):
        rates("one_cycle", 1e-3, num_warmup_steps=1, num_training_steps=2)
