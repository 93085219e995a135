"""predict_velocity through a wrapper without a config (what DDP / FSDP hand the training loop)."""

import pytest
import torch

from diffusers_symmflow.models import predict_velocity


class Wrapper(torch.nn.Module):
    """Stands in for DistributedDataParallel: forwards to `.module` and has no `config`."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module
        self.calls = 0

    def forward(self, *args, **kwargs):
        self.calls += 1
        return self.module(*args, **kwargs)


def test_wrapped_model_reads_label_time_support_from_the_unwrapped_model(tiny_pixel_unet):
    model = tiny_pixel_unet(sample_size=8, label_time=True)
    wrapped = Wrapper(model)
    sample = torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = predict_velocity(model, sample, 300.0, 700.0)
        actual = predict_velocity(wrapped, sample, 300.0, 700.0, unwrapped_model=model)
        other_label_time = predict_velocity(wrapped, sample, 300.0, 0.0, unwrapped_model=model)
    assert wrapped.calls == 2  # the forward goes through the wrapper (DDP synchronises gradients there)
    torch.testing.assert_close(actual, expected)
    assert not torch.allclose(actual, other_label_time)
    # Without the unwrapped model the wrapper hides the config and the label time is never passed.
    with pytest.raises(ValueError, match="class_labels"):
        predict_velocity(wrapped, sample, 300.0, 700.0)


# ----------------------------------------------------------------------------------------------------------------
# LabelHead: the logits head and the gated label input
# ----------------------------------------------------------------------------------------------------------------

from diffusers_symmflow.models import LabelHead, predict_model_output  # noqa: E402


class Recorder(torch.nn.Module):
    """Returns a fixed output and records the input it was given."""

    def __init__(self, output: torch.Tensor):
        super().__init__()
        self.output = output
        self.seen = None

    def forward(self, sample, timestep, class_labels=None):
        self.seen = sample.clone()
        return self.output


def test_paper_head_is_the_identity():
    head = LabelHead(num_image_channels=1)
    assert head.is_paper
    sample, output = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    assert head.model_input(sample, None) is sample
    assert head.velocity(output, sample, None) is output


def test_gated_input_scales_only_the_label_channels_by_one_minus_s():
    head = LabelHead(num_image_channels=1, input="gated")
    sample = torch.randn(2, 4, 3, 3)
    gated = head.model_input(sample, torch.tensor([250.0, 1000.0]))
    torch.testing.assert_close(gated[:, :1], sample[:, :1])
    torch.testing.assert_close(gated[0, 1:], 0.75 * sample[0, 1:])
    assert torch.count_nonzero(gated[1, 1:]) == 0  # the one-step readout (s = 1) sees no label noise
    with pytest.raises(ValueError, match="label_timestep"):
        head.model_input(sample, None)


def test_logits_velocity_follows_from_the_clean_code_estimate():
    head = LabelHead(num_image_channels=1, prediction="logits")
    g = torch.Generator().manual_seed(0)
    sample, output = torch.randn(3, 4, 2, 2, generator=g), torch.randn(3, 4, 2, 2, generator=g)
    sigma = torch.tensor([1.0, 0.4, 0.0])
    velocity = head.velocity(output, sample, sigma * 1000)
    y_hat = 2 * output[:, 1:].softmax(dim=1) - 1
    torch.testing.assert_close(head.clean_label(output), y_hat)
    torch.testing.assert_close(velocity[:, :1], output[:, :1])  # the image side is untouched
    # s = 1: one Euler step to s = 0 lands exactly on y_hat, whatever noise the state held.
    torch.testing.assert_close(sample[0, 1:] - 1.0 * velocity[0, 1:], y_hat[0])
    # 0 < s < 1: v_y = (y_s - y_hat) / s, the eq. 2 velocity for noise estimate (y_s - (1 - s) y_hat) / s.
    torch.testing.assert_close(velocity[1, 1:], (sample[1, 1:] - y_hat[1]) / 0.4)
    # s = 0: the noise cannot be inferred; its mean is 0, so v_y = -y_hat (no division by zero).
    torch.testing.assert_close(velocity[2, 1:], -y_hat[2])
    assert torch.isfinite(velocity).all()


def test_predict_velocity_applies_the_head_around_the_model():
    output = torch.randn(2, 4, 3, 3)
    model = Recorder(output)
    head = LabelHead(num_image_channels=1, prediction="logits", input="gated")
    sample = torch.randn(2, 4, 3, 3)
    raw = predict_model_output(model, sample, 0.0, 1000.0, label_head=head)
    assert raw is output
    assert torch.count_nonzero(model.seen[:, 1:]) == 0
    velocity = predict_velocity(model, sample, 0.0, 1000.0, label_head=head)
    torch.testing.assert_close(sample[:, 1:] - velocity[:, 1:], 2 * output[:, 1:].softmax(1) - 1)


def test_unknown_head_settings_are_rejected():
    with pytest.raises(ValueError, match="label prediction"):
        LabelHead(num_image_channels=1, prediction="sample")
    with pytest.raises(ValueError, match="label input"):
        LabelHead(num_image_channels=1, input="masked")


def test_a_logits_head_needs_the_one_hot_code():
    from diffusers_symmflow.models import check_label_prediction

    for encoding in ("onehot", "scalar", "palette"):
        check_label_prediction("velocity", encoding)  # the paper's head reads any code
    check_label_prediction("logits", "onehot")
    for encoding in ("scalar", "palette"):
        with pytest.raises(ValueError, match=f"needs label_encoding='onehot'; got label_encoding='{encoding}'"):
            check_label_prediction("logits", encoding)
    with pytest.raises(ValueError, match="Unknown label prediction 'sample'"):
        check_label_prediction("sample", "onehot")


def test_a_prepared_model_gives_the_same_velocity(tiny_pixel_unet):
    from diffusers_symmflow.models.velocity import prepare_velocity_model

    model = tiny_pixel_unet(sample_size=8, label_time=True)
    sample = torch.randn(2, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    takes_label_time = prepare_velocity_model(model)
    assert takes_label_time is True
    assert prepare_velocity_model(tiny_pixel_unet(sample_size=8, label_time=False)) is False
    with torch.no_grad():
        prepared = predict_velocity(model, sample, 300.0, 700.0, takes_label_time=takes_label_time)
        unprepared = predict_velocity(model, sample, 300.0, 700.0)
    torch.testing.assert_close(prepared, unprepared)
