import pytest
import torch

from diffusers_symmflow.schedulers.scheduling_symmflow import SymmFlowScheduler


def exact_pair(image_channels=3, label_channels=1, size=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (2, image_channels, size, size)
    label_shape = (2, label_channels, size, size)
    return (
        torch.randn(shape, generator=g),
        torch.randn(shape, generator=g),
        torch.randn(label_shape, generator=g),
        torch.randn(label_shape, generator=g),
    )


def integrate(scheduler, state, velocity_fn, num_image_channels):
    for i, t in enumerate(scheduler.timesteps):
        v = velocity_fn(state, t, scheduler.label_timesteps[i])
        state = scheduler.step(v, t, state, num_image_channels).prev_sample
    return state


@pytest.mark.parametrize("image_channels,label_channels", [(3, 1), (4, 4), (1, 11)])
@pytest.mark.parametrize("steps", [1, 2, 7, 25])
def test_joint_euler_exact_endpoints_both_directions(image_channels, label_channels, steps):
    # On the paper's straight path the exact velocity is constant, so Euler lands exactly for any step count.
    x, xi_x, y, xi_y = exact_pair(image_channels, label_channels)
    velocity = torch.cat([x - xi_x, xi_y - y], dim=1)
    scheduler = SymmFlowScheduler()

    scheduler.set_timesteps(steps, direction="forward")
    end = integrate(scheduler, torch.cat([xi_x, y], 1), lambda s, t, ty: velocity, image_channels)
    torch.testing.assert_close(end, torch.cat([x, xi_y], 1), atol=1e-5, rtol=1e-5)

    scheduler.set_timesteps(steps, direction="reverse")
    end = integrate(scheduler, torch.cat([x, xi_y], 1), lambda s, t, ty: velocity, image_channels)
    torch.testing.assert_close(end, torch.cat([xi_x, y], 1), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_conditional_mode_holds_the_given_side_and_lands_exactly(direction):
    x, xi_x, y, xi_y = exact_pair(3, 2)
    velocity = torch.cat([x - xi_x, xi_y - y], dim=1)
    scheduler = SymmFlowScheduler()
    scheduler.set_timesteps(5, direction=direction, mode="conditional")
    if direction == "forward":
        start, expected = torch.cat([xi_x, y], 1), torch.cat([x, y], 1)
        # label clean throughout: label noise level 0; image goes from noise level 1000 down
        assert torch.all(scheduler.label_timesteps == 0)
        assert scheduler.timesteps[0] == 1000
    else:
        start, expected = torch.cat([x, xi_y], 1), torch.cat([x, y], 1)
        assert torch.all(scheduler.timesteps == 0)
        assert scheduler.label_timesteps[0] == 1000
    end = integrate(scheduler, start, lambda s, t, ty: velocity, 3)
    torch.testing.assert_close(end, expected, atol=1e-5, rtol=1e-5)


def test_timesteps_follow_the_documented_convention():
    scheduler = SymmFlowScheduler()
    scheduler.set_timesteps(4, direction="forward")
    # t = 0, .25, .5, .75 -> image noise level (1 - t) * 1000, label noise level t * 1000
    torch.testing.assert_close(scheduler.timesteps, torch.tensor([1000.0, 750.0, 500.0, 250.0]))
    torch.testing.assert_close(scheduler.label_timesteps, torch.tensor([0.0, 250.0, 500.0, 750.0]))
    scheduler.set_timesteps(4, direction="reverse")
    torch.testing.assert_close(scheduler.timesteps, torch.tensor([0.0, 250.0, 500.0, 750.0]))


def test_shift_spends_more_steps_at_high_noise():
    plain, shifted = SymmFlowScheduler(), SymmFlowScheduler(shift=3.0)
    plain.set_timesteps(10)
    shifted.set_timesteps(10)
    assert shifted.timesteps[0] == plain.timesteps[0] == 1000
    assert torch.all(shifted.timesteps[1:] > plain.timesteps[1:])


def curved_field(state, num_image_channels):
    # dz/dt = -z rotated: a curved flow where first-order error is visible. Exact solution: rotation by angle t.
    a, b = state[:, :num_image_channels], state[:, num_image_channels:]
    return torch.cat([-b, a], dim=1)


def test_heun_beats_euler_at_equal_model_calls():
    state0 = torch.tensor([[1.0, 0.0]]).reshape(1, 2, 1, 1)
    angle = torch.tensor(1.0)
    exact = torch.stack([torch.cos(angle), torch.sin(angle)]).reshape(1, 2, 1, 1)
    errors = {}
    for solver, steps in [("euler", 8), ("heun", 4)]:
        scheduler = SymmFlowScheduler(solver=solver)
        scheduler.set_timesteps(steps, direction="forward")
        calls = []

        def velocity(state, t, ty):
            calls.append(t)
            return curved_field(state, 1)

        end = integrate(scheduler, state0, velocity, 1)
        assert len(calls) == 8
        errors[solver] = (end - exact).abs().max().item()
    assert errors["heun"] < errors["euler"] / 5


def test_heun_is_exact_on_straight_paths_and_reports_order():
    x, xi_x, y, xi_y = exact_pair(3, 1)
    velocity = torch.cat([x - xi_x, xi_y - y], dim=1)
    scheduler = SymmFlowScheduler(solver="heun")
    scheduler.set_timesteps(3, direction="reverse")
    assert scheduler.order == 2 and len(scheduler.timesteps) == 6
    end = integrate(scheduler, torch.cat([x, xi_y], 1), lambda s, t, ty: velocity, 3)
    torch.testing.assert_close(end, torch.cat([xi_x, y], 1), atol=1e-5, rtol=1e-5)


def test_step_output_predicts_endpoints():
    x, xi_x, y, xi_y = exact_pair(3, 1)
    velocity = torch.cat([x - xi_x, xi_y - y], dim=1)
    scheduler = SymmFlowScheduler()
    scheduler.set_timesteps(4, direction="forward")
    out = scheduler.step(velocity, scheduler.timesteps[0], torch.cat([xi_x, y], 1), num_image_channels=3)
    assert out.prev_sample.shape == (x.shape[0], x.shape[1] + y.shape[1], *x.shape[2:])
    # From the start (t=0) one jump along the exact velocity reaches the clean image; the label is already clean.
    torch.testing.assert_close(out.pred_original_sample, torch.cat([x, y], 1), atol=1e-5, rtol=1e-5)
    # The tuple form carries the same two tensors as the dataclass.
    scheduler.set_timesteps(4, direction="forward")
    as_tuple = scheduler.step(velocity, scheduler.timesteps[0], torch.cat([xi_x, y], 1), 3, return_dict=False)
    assert len(as_tuple) == 2
    torch.testing.assert_close(as_tuple[0], out.prev_sample)
    torch.testing.assert_close(as_tuple[1], out.pred_original_sample)


def test_config_round_trip(tmp_path):
    scheduler = SymmFlowScheduler(solver="heun", shift=2.5, num_train_timesteps=500)
    scheduler.save_pretrained(tmp_path)
    loaded = SymmFlowScheduler.from_pretrained(tmp_path)
    assert loaded.config.solver == "heun" and loaded.config.shift == 2.5 and loaded.config.num_train_timesteps == 500
    for s in (scheduler, loaded):
        s.set_timesteps(3, direction="reverse")
    torch.testing.assert_close(scheduler.timesteps, loaded.timesteps)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_inference_steps": 0}, "`num_inference_steps` must be a positive integer, got 0"),
        ({"num_inference_steps": 2.5}, "positive integer"),
        ({"num_inference_steps": 2, "direction": "sideways"}, "Unknown direction 'sideways'"),
        ({"num_inference_steps": 2, "mode": "both"}, "Unknown sampling mode 'both'"),
    ],
)
def test_set_timesteps_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SymmFlowScheduler().set_timesteps(**kwargs)


def test_constructor_and_step_reject_bad_arguments():
    with pytest.raises(ValueError, match="Unknown solver 'rk4'"):
        SymmFlowScheduler(solver="rk4")
    with pytest.raises(ValueError, match="shift"):
        SymmFlowScheduler(shift=0)
    scheduler = SymmFlowScheduler()
    sample = torch.zeros(1, 4, 2, 2)
    with pytest.raises(ValueError, match="set_timesteps"):
        scheduler.step(sample, 0, sample, 3)
    scheduler.set_timesteps(1)
    with pytest.raises(ValueError, match="num_image_channels"):
        scheduler.step(sample, 0, sample, 4)
    with pytest.raises(ValueError, match="shape"):
        scheduler.step(torch.zeros(1, 3, 2, 2), 0, sample, 3)
    scheduler.step(sample, scheduler.timesteps[0], sample, 3)
    with pytest.raises(ValueError, match="All 1 model calls"):
        scheduler.step(sample, scheduler.timesteps[0], sample, 3)


def test_base_classes_importable_from_component_module_and_root():
    # diffusers' pipeline loader looks these names up on the component's module / package.
    import diffusers_symmflow
    from diffusers_symmflow.schedulers import scheduling_symmflow

    for module in (diffusers_symmflow, scheduling_symmflow):
        assert hasattr(module, "SchedulerMixin") and hasattr(module, "ModelMixin")


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_invert_walks_the_grid_backwards(solver, shift):
    scheduler = SymmFlowScheduler(solver=solver, shift=shift)
    scheduler.set_timesteps(5, direction="forward", mode="conditional")
    forward_sigmas = scheduler.sigmas.clone()
    scheduler.set_timesteps(5, direction="forward", mode="conditional", invert=True)
    assert scheduler.invert is True
    torch.testing.assert_close(scheduler.sigmas, forward_sigmas.flip(0))
    assert scheduler.sigmas[0] == 0 and scheduler.sigmas[-1] == 1
    assert torch.all(scheduler.label_sigmas == 0) and torch.all(scheduler.label_timesteps == 0)
    # The model is called at the start of each step (and, for Heun, at its end too), now from the clean end.
    assert scheduler.timesteps[0] == 0
    assert len(scheduler.timesteps) == 5 * scheduler.order


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("steps", [1, 4])
def test_conditional_inversion_retraces_generation_for_a_constant_velocity(solver, steps):
    # A velocity that does not change along the path (here: a function of the clean label only) is inverted exactly:
    # integrating the image back to noise and forward again returns it, and the noise is x - v.
    x, _, y, _ = exact_pair(3, 2)
    velocity = torch.cat([y.mean(dim=1, keepdim=True).expand_as(x) * 0.5, torch.zeros_like(y)], dim=1)
    scheduler = SymmFlowScheduler(solver=solver, shift=2.0)
    scheduler.set_timesteps(steps, direction="forward", mode="conditional", invert=True)
    noise = integrate(scheduler, torch.cat([x, y], 1), lambda s, t, ty: velocity, 3)
    torch.testing.assert_close(noise, torch.cat([x - velocity[:, :3], y], 1), atol=1e-5, rtol=1e-5)
    scheduler.set_timesteps(steps, direction="forward", mode="conditional")
    end = integrate(scheduler, noise, lambda s, t, ty: velocity, 3)
    torch.testing.assert_close(end, torch.cat([x, y], 1), atol=1e-5, rtol=1e-5)


def test_set_timesteps_refuses_more_than_the_bound_before_building_the_grid():
    # 10**9 steps used to build the whole grid (killed at 23 GB); the bound is named in the error.
    from diffusers_symmflow.schedulers.scheduling_symmflow import MAX_INFERENCE_STEPS

    scheduler = SymmFlowScheduler()
    scheduler.set_timesteps(MAX_INFERENCE_STEPS)
    assert len(scheduler.timesteps) == MAX_INFERENCE_STEPS
    with pytest.raises(ValueError, match="`num_inference_steps` must be at most 10,000.*1,000,000,000"):
        scheduler.set_timesteps(10**9)


@pytest.mark.parametrize("num_train_timesteps", [1000, 50])
def test_len_is_num_train_timesteps(num_train_timesteps):
    assert len(SymmFlowScheduler(num_train_timesteps=num_train_timesteps)) == num_train_timesteps


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_a_loop_over_a_tail_of_the_timesteps_starts_where_its_first_timestep_is(solver, direction):
    # diffusers' img2img pattern: loop over `timesteps[k:]` without `set_begin_index`. The scheduler must find call k
    # from the timestep (as FlowMatchEulerDiscreteScheduler does), giving what set_begin_index(k) gives.
    torch.manual_seed(0)
    state = torch.randn(2, 4, 3, 3)

    def velocity(sample, t, label_t):
        return torch.sin(sample) * (1 + float(t) / 1000)  # changes along the path, so a wrong place shows

    scheduler = SymmFlowScheduler(solver=solver)
    scheduler.set_timesteps(6, direction=direction)
    k = 2 * scheduler.order
    tail = scheduler.timesteps[k:]
    looked_up = state
    for i, t in enumerate(tail):
        looked_up = scheduler.step(velocity(looked_up, t, None), t, looked_up, 3).prev_sample
    assert scheduler.step_index == len(scheduler.timesteps)

    scheduler.set_timesteps(6, direction=direction)
    scheduler.set_begin_index(k)
    begun = state
    for t in tail:
        begun = scheduler.step(velocity(begun, t, None), t, begun, 3).prev_sample
    torch.testing.assert_close(looked_up, begun)

    # And it differs from starting at call 0 (what the scheduler used to do with the tail's timesteps).
    scheduler.set_timesteps(6, direction=direction)
    from_start = state
    for t in scheduler.timesteps[: len(tail)]:
        from_start = scheduler.step(velocity(from_start, t, None), t, from_start, 3).prev_sample
    assert not torch.allclose(from_start, looked_up)


def test_step_refuses_a_timestep_that_disagrees_with_its_position():
    scheduler = SymmFlowScheduler()
    scheduler.set_timesteps(4)
    sample = torch.zeros(1, 4, 2, 2)
    with pytest.raises(ValueError, match="`timestep` 123 is not a step of this schedule"):
        scheduler.step(sample, 123.0, sample, 3)
    scheduler.step(sample, scheduler.timesteps[0], sample, 3)
    with pytest.raises(ValueError, match="disagrees with the scheduler's position: model call 1"):
        scheduler.step(sample, scheduler.timesteps[2], sample, 3)
    scheduler.set_timesteps(4)
    scheduler.set_begin_index(1)
    with pytest.raises(ValueError, match="disagrees"):
        scheduler.step(sample, scheduler.timesteps[0], sample, 3)


def test_conditional_reverse_held_side_timesteps_start_at_the_first_step():
    # In reverse conditional mode the image side is held clean: every timestep is 0, so the value cannot place a
    # step; the loop starts at call 0 (set_begin_index places it elsewhere).
    scheduler = SymmFlowScheduler()
    scheduler.set_timesteps(3, direction="reverse", mode="conditional")
    assert torch.all(scheduler.timesteps == 0)
    assert scheduler.index_for_timestep(0.0) == 0
