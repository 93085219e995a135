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
