"""What diffusers' SchedulerCommonTest checks, for SymmFlowScheduler: config and save/load round trips, `from_config`
both ways, tuple / dataclass output equivalence, determinism, `len`, and the step's output shapes."""

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from diffusers_symmflow.schedulers.scheduling_symmflow import SymmFlowScheduler, SymmFlowSchedulerOutput


def _settings(config) -> dict:
    # `_use_default_values` records which values were defaults at construction; a reload makes them explicit.
    return {key: value for key, value in config.items() if key != "_use_default_values"}


CONFIGS = [{}, {"solver": "heun"}, {"shift": 3.0, "num_train_timesteps": 500}]


def _run(scheduler, steps=4, direction="forward", mode="joint", seed=0):
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randn(2, 5, 4, 4, generator=generator)
    scheduler.set_timesteps(steps, direction=direction, mode=mode)
    outputs = []
    for t in scheduler.timesteps:
        velocity = torch.tanh(sample) + float(t) / len(scheduler)
        step = scheduler.step(velocity, t, sample, 3)
        assert isinstance(step, SymmFlowSchedulerOutput)
        assert step.prev_sample.shape == sample.shape and step.pred_original_sample.shape == sample.shape
        sample = step.prev_sample
        outputs.append(sample)
    return torch.stack(outputs)


@pytest.mark.parametrize("config", CONFIGS)
def test_save_pretrained_round_trip_gives_the_same_config_and_steps(config, tmp_path):
    scheduler = SymmFlowScheduler(**config)
    scheduler.save_pretrained(tmp_path)
    loaded = SymmFlowScheduler.from_pretrained(tmp_path)
    assert _settings(loaded.config) == _settings(scheduler.config)
    torch.testing.assert_close(_run(loaded), _run(scheduler), rtol=0, atol=0)


@pytest.mark.parametrize("config", CONFIGS)
def test_from_config_round_trip(config):
    scheduler = SymmFlowScheduler(**config)
    rebuilt = SymmFlowScheduler.from_config(scheduler.config)
    assert _settings(rebuilt.config) == _settings(scheduler.config)
    torch.testing.assert_close(_run(rebuilt, direction="reverse"), _run(scheduler, direction="reverse"))


def test_from_config_both_ways_with_flow_match_euler():
    # A FlowMatchEuler config (e.g. a Stable Diffusion 3 checkpoint's) gives SymmFlow its scale and shift, and a
    # SymmFlow config gives FlowMatchEuler the same ones; keys the other class does not know are ignored, not errors.
    euler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=800, shift=3.0)
    symmflow = SymmFlowScheduler.from_config(euler.config)
    assert (symmflow.config.num_train_timesteps, symmflow.config.shift, symmflow.config.solver) == (800, 3.0, "euler")
    back = FlowMatchEulerDiscreteScheduler.from_config(symmflow.config)
    assert (back.config.num_train_timesteps, back.config.shift) == (800, 3.0)


@pytest.mark.parametrize("config", CONFIGS)
def test_tuple_and_dataclass_outputs_are_equal(config):
    scheduler = SymmFlowScheduler(**config)
    scheduler.set_timesteps(3)
    sample = torch.randn(1, 4, 2, 2, generator=torch.Generator().manual_seed(0))
    velocity = torch.randn(1, 4, 2, 2, generator=torch.Generator().manual_seed(1))
    as_dict = scheduler.step(velocity, scheduler.timesteps[0], sample, 3)
    scheduler.set_timesteps(3)
    as_tuple = scheduler.step(velocity, scheduler.timesteps[0], sample, 3, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    torch.testing.assert_close(as_tuple[0], as_dict.prev_sample, rtol=0, atol=0)
    torch.testing.assert_close(as_tuple[1], as_dict.pred_original_sample, rtol=0, atol=0)


def test_steps_are_deterministic_and_set_timesteps_resets_the_loop():
    scheduler = SymmFlowScheduler(solver="heun")
    first = _run(scheduler, mode="conditional")
    torch.testing.assert_close(_run(scheduler, mode="conditional"), first, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_step_keeps_the_sample_dtype(dtype):
    scheduler = SymmFlowScheduler()
    scheduler.set_timesteps(2)
    sample = torch.randn(1, 4, 2, 2).to(dtype)
    out = scheduler.step(sample, scheduler.timesteps[0], sample, 3)
    assert out.prev_sample.dtype == dtype


def test_public_api():
    scheduler = SymmFlowScheduler()
    assert len(scheduler) == scheduler.config.num_train_timesteps
    names = ("set_timesteps", "step", "set_begin_index", "index_for_timestep", "order", "step_index", "begin_index")
    for name in names:
        assert hasattr(scheduler, name), name
