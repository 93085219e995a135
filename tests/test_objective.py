import pytest
import torch

from diffusers_symmflow.objective import SymmFlowObjective


def batch(seed=0, image_channels=3, label_channels=2):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(4, image_channels, 5, 5, generator=g),
        torch.randn(4, image_channels, 5, 5, generator=g),
        torch.randn(4, label_channels, 5, 5, generator=g),
        torch.randn(4, label_channels, 5, 5, generator=g),
    )


def test_interpolants_and_targets_match_paper_equations_1_2():
    x, xi_x, y, xi_y = batch()
    t = torch.tensor([0.0, 0.25, 0.6, 1.0])
    objective = SymmFlowObjective(sigma_min=0.0)
    inputs = objective.prepare(x, y, image_noise=xi_x, label_noise=xi_y, t=t, label_sigma=t)
    tb = t.view(-1, 1, 1, 1)
    torch.testing.assert_close(inputs.sample[:, :3], (1 - tb) * xi_x + tb * x)  # eq. 1, x_t
    torch.testing.assert_close(inputs.sample[:, 3:], (1 - tb) * y + tb * xi_y)  # eq. 1, y_t
    torch.testing.assert_close(inputs.target, torch.cat([x - xi_x, xi_y - y], 1))  # eq. 2
    torch.testing.assert_close(inputs.timestep, (1 - t) * 1000)
    torch.testing.assert_close(inputs.label_timestep, t * 1000)


def test_authors_sigma_min_form():
    x, xi_x, y, xi_y = batch()
    s = 1e-4
    objective = SymmFlowObjective(sigma_min=s)
    t = torch.full((4,), 0.3)
    inputs = objective.prepare(x, y, image_noise=xi_x, label_noise=xi_y, t=t, label_sigma=t)
    torch.testing.assert_close(inputs.sample[:, :3], 0.3 * x + (1 - (1 - s) * 0.3) * xi_x)
    torch.testing.assert_close(inputs.sample[:, 3:], (1 - (1 - s) * 0.3) * y + 0.3 * xi_y)
    torch.testing.assert_close(inputs.target, torch.cat([x - (1 - s) * xi_x, xi_y - (1 - s) * y], 1))
    # The target is the time derivative of the path: finite difference check.
    later = objective.prepare(x, y, image_noise=xi_x, label_noise=xi_y, t=t + 1e-3, label_sigma=t + 1e-3)
    torch.testing.assert_close((later.sample - inputs.sample) / 1e-3, inputs.target, atol=2e-3, rtol=1e-3)


def test_exact_targets_give_zero_loss_and_weights_apply():
    x, xi_x, y, xi_y = batch()
    objective = SymmFlowObjective(image_loss_weight=0.9)
    inputs = objective.prepare(x, y, generator=torch.Generator().manual_seed(0))
    assert objective.loss(inputs.target, inputs.target, 3).loss.item() == 0.0
    wrong = inputs.target.clone()
    wrong[:, 3:] += 1.0  # label error only: squared error 1 everywhere on the label side
    out = objective.loss(wrong, inputs.target, 3)
    assert out.image_loss.item() == 0.0
    torch.testing.assert_close(out.label_loss, torch.tensor(1.0))
    torch.testing.assert_close(out.loss, torch.tensor(0.1))


def test_label_time_options():
    g = torch.Generator().manual_seed(0)
    t, s = SymmFlowObjective(label_time="diagonal").sample_times(1000, generator=g)
    assert torch.equal(t, s)
    t, s = SymmFlowObjective(label_time="independent").sample_times(1000, generator=g)
    assert (t == s).float().mean() == 0 and abs(torch.corrcoef(torch.stack([t, s]))[0, 1]) < 0.1
    t, s = SymmFlowObjective(label_time="mixed", diagonal_probability=0.5).sample_times(4000, generator=g)
    assert 0.45 < (t == s).float().mean() < 0.55
    assert not SymmFlowObjective().needs_label_time and SymmFlowObjective(label_time="mixed").needs_label_time


@pytest.mark.parametrize("label_time", ["diagonal", "mixed"])
def test_readout_probability_puts_that_share_of_the_batch_at_the_readout_point(label_time):
    g = torch.Generator().manual_seed(0)
    t, s = SymmFlowObjective(label_time=label_time, readout_probability=0.5).sample_times(4000, generator=g)
    at_readout = (t == 1) & (s == 1)
    assert 0.46 < at_readout.float().mean() < 0.54
    # Off the readout point, the times are the usual draw (uniform t, s tied to t on the diagonal).
    assert (t[~at_readout] < 1).all() and 0.45 < t[~at_readout].mean() < 0.55
    if label_time == "diagonal":
        assert torch.equal(t, s)
    # At the readout point the input is the clean image (up to sigma_min) and pure label noise.
    objective = SymmFlowObjective(readout_probability=1.0)
    image, image_noise, label, label_noise = batch()
    inputs = objective.prepare(image, label, image_noise=image_noise, label_noise=label_noise, generator=g)
    torch.testing.assert_close(inputs.sample[:, :3], image + 1e-4 * image_noise)
    torch.testing.assert_close(inputs.sample[:, 3:], label_noise + 1e-4 * label)
    # 0 (the paper's) draws exactly what the objective drew before the option existed.
    a = SymmFlowObjective(label_time="mixed").sample_times(64, generator=torch.Generator().manual_seed(3))
    b = SymmFlowObjective(label_time="mixed", readout_probability=0.0).sample_times(
        64, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_readout_samples_leave_the_image_loss_unless_asked():
    image, image_noise, label, label_noise = batch()
    g = torch.Generator().manual_seed(0)
    inputs = SymmFlowObjective(readout_probability=0.5).prepare(image, label, generator=g)
    at_readout = (inputs.t == 1) & (inputs.label_sigma == 1)
    assert torch.equal(inputs.image_loss_mask, ~at_readout)
    assert at_readout.any() and not at_readout.all()  # this seed places some samples there
    assert SymmFlowObjective().prepare(image, label, generator=g).image_loss_mask.all()  # the paper's: every sample
    kept = SymmFlowObjective(readout_probability=1.0, readout_image_loss=True).prepare(image, label, generator=g)
    assert kept.image_loss_mask.all()

    # The image loss is the mean over the masked-in samples; the label loss still sees every sample.
    objective = SymmFlowObjective(image_loss_weight=0.5)
    target = torch.cat([image, label], dim=1)
    output = target.clone()
    output[0, :3] += 2.0  # sample 0's image is off by 2 everywhere (squared error 4)
    output[:, 3:] += 1.0  # every label is off by 1
    mask = torch.tensor([False, True, True, True])
    masked = objective.loss(output, target, num_image_channels=3, image_loss_mask=mask)
    assert masked.image_loss == 0 and masked.label_loss == 1
    unmasked = objective.loss(output, target, num_image_channels=3)
    torch.testing.assert_close(unmasked.image_loss, torch.tensor(1.0))  # 4 on one sample of four
    none = objective.loss(output, target, num_image_channels=3, image_loss_mask=torch.zeros(4, dtype=torch.bool))
    assert none.image_loss == 0 and torch.isfinite(none.loss)


def test_time_sampling_is_reproducible_and_in_range():
    for sampling in ("uniform", "logit_normal"):
        objective = SymmFlowObjective(time_sampling=sampling)
        a = objective.sample_times(256, generator=torch.Generator().manual_seed(1))[0]
        b = objective.sample_times(256, generator=torch.Generator().manual_seed(1))[0]
        assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    logit = SymmFlowObjective(time_sampling="logit_normal").sample_times(
        4000, generator=torch.Generator().manual_seed(0)
    )[0]
    # Logit-normal concentrates mass in the middle compared with uniform.
    assert ((logit > 0.25) & (logit < 0.75)).float().mean() > 0.6


def test_times_are_drawn_as_diffusers_sd3_scripts_draw_them_with_t_the_image_time():
    from diffusers.training_utils import compute_density_for_timestep_sampling

    for sampling in ("uniform", "logit_normal"):
        objective = SymmFlowObjective(time_sampling=sampling, logit_mean=0.5, logit_std=0.8)
        t, _ = objective.sample_times(4000, generator=torch.Generator().manual_seed(4))
        expected = compute_density_for_timestep_sampling(
            sampling, 4000, logit_mean=0.5, logit_std=0.8, generator=torch.Generator().manual_seed(4)
        )
        assert torch.equal(t, expected)
    # The draw is the image time: a positive logit mean puts the median at sigmoid(0.5) = 0.62, towards clean images.
    assert float(t.median()) == pytest.approx(float(torch.sigmoid(torch.tensor(0.5))), abs=0.02)


def test_config_round_trip(tmp_path):
    objective = SymmFlowObjective(image_loss_weight=0.7, label_time="mixed", diagonal_probability=0.25)
    objective.save_config(tmp_path)
    loaded = SymmFlowObjective.from_config(SymmFlowObjective.load_config(tmp_path))
    assert loaded.config.image_loss_weight == 0.7 and loaded.config.label_time == "mixed"
    assert loaded.config.diagonal_probability == 0.25


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"label_time": "sometimes"}, "Unknown label_time 'sometimes'"),
        ({"time_sampling": "beta"}, "Unknown time_sampling 'beta'"),
        ({"image_loss_weight": 1.5}, "image_loss_weight"),
        ({"diagonal_probability": -0.1}, "diagonal_probability"),
        ({"sigma_min": 1.0}, "sigma_min"),
        ({"readout_probability": 1.5}, "readout_probability"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SymmFlowObjective(**kwargs)


def test_mismatched_image_and_label_shapes_raise():
    with pytest.raises(ValueError, match="spatial"):
        SymmFlowObjective().prepare(torch.zeros(2, 3, 4, 4), torch.zeros(2, 1, 1, 1))


def test_logits_label_loss_is_cross_entropy_against_the_clean_one_hot_class():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 3, (4, 5, 5), generator=g)
    label = 2 * torch.nn.functional.one_hot(ids, 3).permute(0, 3, 1, 2).float() - 1
    label = label + 0.01 * torch.rand(label.shape, generator=g)  # dequantized: the argmax is unchanged
    image = torch.randn(4, 1, 5, 5, generator=g)
    objective = SymmFlowObjective(label_prediction="logits", image_loss_weight=0.5)
    inputs = objective.prepare(image, label, generator=g)
    output = torch.randn(inputs.target.shape, generator=g)
    loss = objective.loss(output, inputs.target, num_image_channels=1, label=label)
    expected_label = torch.nn.functional.cross_entropy(output[:, 1:], ids)
    expected_image = ((output[:, :1] - inputs.target[:, :1]) ** 2).mean()
    torch.testing.assert_close(loss.label_loss, expected_label)
    torch.testing.assert_close(loss.loss, 0.5 * expected_image + 0.5 * expected_label)
    # Perfect logits drive the label loss to ~0 whatever the velocity target says.
    perfect = output.clone()
    perfect[:, 1:] = 50 * label
    assert objective.loss(perfect, inputs.target, 1, label=label).label_loss < 1e-6
    with pytest.raises(ValueError, match="clean one-hot code"):
        objective.loss(output, inputs.target, num_image_channels=1)
    with pytest.raises(ValueError, match="label_prediction"):
        SymmFlowObjective(label_prediction="sample")
