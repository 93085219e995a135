"""The EMA: building it, swapping it in, and storing it in checkpoints without pickle."""

import os

import pytest
import torch

from diffusers_symmflow.training.checkpointing import ema_checkpoint_state, load_ema_checkpoint_state, save_checkpoint
from diffusers_symmflow.training.ema import ema_weights, make_ema


def test_ema_is_saved_without_pickle_and_a_legacy_one_is_read_safely(tmp_path, accelerator, planted_pickle):
    from diffusers.training_utils import EMAModel

    accelerator, model = accelerator
    ema = EMAModel(model.parameters(), decay=0.5)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.step(model.parameters())
    path = save_checkpoint(accelerator, str(tmp_path / "out"), 1, shared_state=ema_checkpoint_state(ema))
    assert not any(name.endswith((".pkl", ".pt")) and "custom" in name for name in os.listdir(path))
    restored = EMAModel(torch.nn.Linear(3, 2).parameters(), decay=0.9)
    load_ema_checkpoint_state(restored, path)
    assert restored.decay == 0.5 and restored.optimization_step == ema.optimization_step == 1
    assert all(torch.equal(a, b) for a, b in zip(restored.shadow_params, ema.shadow_params))

    # A checkpoint of an earlier version: the EMA in accelerate's custom_checkpoint_0.pkl, read with weights_only.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    torch.save(ema.state_dict(), legacy / "custom_checkpoint_0.pkl")
    restored = EMAModel(torch.nn.Linear(3, 2).parameters(), decay=0.9)
    load_ema_checkpoint_state(restored, str(legacy))
    assert all(torch.equal(a, b) for a, b in zip(restored.shadow_params, ema.shadow_params))
    ran = tmp_path / "code-ran"
    torch.save({"shadow_params": [planted_pickle(ran)]}, legacy / "custom_checkpoint_0.pkl")
    with pytest.raises(ValueError, match="was not loaded .loading it could run code"):
        load_ema_checkpoint_state(restored, str(legacy))
    assert not ran.exists()
    with pytest.raises(ValueError, match="holds no EMA weights"):
        load_ema_checkpoint_state(restored, str(tmp_path))


def test_ema_weights_swaps_in_and_restores():
    from diffusers.training_utils import EMAModel

    model = torch.nn.Linear(2, 2)
    ema = EMAModel(model.parameters(), decay=0.5)
    trained = [p.detach().clone() for p in model.parameters()]
    shadow = [p.clone() for p in ema.shadow_params]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    with ema_weights(ema, model.parameters()):
        assert all(torch.equal(p, s) for p, s in zip(model.parameters(), shadow))
    assert all(torch.equal(p, t + 1.0) for p, t in zip(model.parameters(), trained))
    with ema_weights(None, model.parameters()):
        assert all(torch.equal(p, t + 1.0) for p, t in zip(model.parameters(), trained))


@pytest.mark.parametrize("constant_decay, decays", [(True, [0.0, 0.9, 0.9]), (False, [0.0, 2 / 11, 3 / 12])])
def test_make_ema_keeps_the_authors_constant_decay_or_diffusers_ramp(constant_decay, decays):
    parameter = torch.nn.Parameter(torch.zeros(1))
    ema = make_ema([parameter], decay=0.9, constant_decay=constant_decay)
    used = []
    for value in (1.0, 2.0, 3.0):
        with torch.no_grad():
            parameter.fill_(value)
        ema.step([parameter])
        used.append(ema.cur_decay_value)
    # diffusers' EMAModel copies the weights at its first update; then the decay is constant or ramps up.
    assert used == pytest.approx(decays)
    expected = 1.0
    for value, decay in zip((2.0, 3.0), decays[1:]):
        expected = decay * expected + (1 - decay) * value
    assert ema.shadow_params[0].item() == pytest.approx(expected)
