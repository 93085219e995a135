import json

import pytest
import torch
from diffusers import UNet2DModel
from testing_utils import make_tiny_sd_unet

from diffusers_symmflow.models import (
    SymmFlowUNet2DConditionModel,
    predict_velocity,
    supports_label_time,
    symmflow_unet2d_config,
)


def tiny_clip(tmp_path):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2, "b</w>": 3}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"), model_max_length=12)
    torch.manual_seed(0)
    encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=4,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=12,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    ).eval()
    return encoder, tokenizer


def test_widening_keeps_pretrained_kernels():
    sd = make_tiny_sd_unet()
    model = SymmFlowUNet2DConditionModel.from_stable_diffusion(sd)
    assert model.config.in_channels == 8 and model.config.out_channels == 8
    old_in, new_in = sd.conv_in.weight, model.conv_in.weight
    # "halve": both halves carry the pretrained kernel scaled by 4 / 8.
    torch.testing.assert_close(new_in[:, :4], old_in * 0.5)
    torch.testing.assert_close(new_in[:, 4:], old_in * 0.5)
    torch.testing.assert_close(model.conv_in.bias, sd.conv_in.bias)
    torch.testing.assert_close(model.conv_out.weight[:4], sd.conv_out.weight)
    torch.testing.assert_close(model.conv_out.weight[4:], sd.conv_out.weight)
    torch.testing.assert_close(model.conv_out.bias, torch.cat([sd.conv_out.bias] * 2))
    # Every other weight is untouched.
    sd_state = sd.state_dict()
    for name, value in model.state_dict().items():
        if name in sd_state and not name.startswith(("conv_in.weight", "conv_out.")):
            assert torch.equal(value, sd_state[name]), name

    duplicated = SymmFlowUNet2DConditionModel.from_stable_diffusion(sd, conv_in_init="duplicate", label_channels=3)
    assert duplicated.config.in_channels == 7
    torch.testing.assert_close(duplicated.conv_in.weight[:, 4:], old_in[:, :3])


def test_widened_model_starts_as_the_pretrained_computation():
    sd = make_tiny_sd_unet()
    model = SymmFlowUNet2DConditionModel.from_stable_diffusion(sd, label_time=True, conv_in_init="duplicate")
    assert supports_label_time(model)
    latents = torch.randn(2, 4, 8, 8)
    text = torch.zeros(2, 77, 32)
    # Duplicated kernels with a zero label half reproduce the pretrained output on both halves,
    # whatever the (zero-initialised) label-time embedding receives.
    out = model(
        torch.cat([latents, torch.zeros_like(latents)], 1), 500, class_labels=torch.tensor([10.0, 900.0])
    ).sample
    ref = sd(latents, 500, text).sample
    torch.testing.assert_close(out[:, :4], ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out[:, 4:], ref, atol=1e-5, rtol=1e-4)


def test_round_trip_and_stored_empty_prompt(tmp_path):
    encoder, tokenizer = tiny_clip(tmp_path)
    model = SymmFlowUNet2DConditionModel.from_stable_diffusion(
        make_tiny_sd_unet(), text_encoder=encoder, tokenizer=tokenizer
    )
    assert model.empty_prompt_embeds.shape == (1, 12, 32) and model.config.empty_prompt_length == 12
    assert model.empty_prompt_embeds.abs().sum() > 0
    model.save_pretrained(tmp_path / "unet")
    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").exists()
    loaded = SymmFlowUNet2DConditionModel.from_pretrained(tmp_path / "unet")
    assert isinstance(loaded, SymmFlowUNet2DConditionModel)
    torch.testing.assert_close(loaded.empty_prompt_embeds, model.empty_prompt_embeds)
    sample = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        a = predict_velocity(model, sample, 300.0, 700.0)
        b = predict_velocity(loaded, sample, 300.0, 700.0)
        # No encoder_hidden_states needed: the stored empty prompt is used, identical to passing it.
        c = model(
            sample, 300.0, model.empty_prompt_embeds.expand(2, -1, -1), class_labels=torch.full((2,), 700.0)
        ).sample
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_widening_rejects_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="conv_in_init"):
        SymmFlowUNet2DConditionModel.from_stable_diffusion(make_tiny_sd_unet(), conv_in_init="zeros")
    encoder, tokenizer = tiny_clip(tmp_path)
    with pytest.raises(ValueError, match="both"):
        SymmFlowUNet2DConditionModel.from_stable_diffusion(make_tiny_sd_unet(), text_encoder=encoder)
    model = SymmFlowUNet2DConditionModel.from_stable_diffusion(make_tiny_sd_unet())
    with pytest.raises(ValueError, match="class embedding"):
        SymmFlowUNet2DConditionModel.from_stable_diffusion(model)
    with pytest.raises(ValueError, match=r"\(1, L, 32\)"):
        model.set_empty_prompt_embeds(torch.zeros(1, 5, 16))


def test_pixel_unet_config_and_label_time_switch():
    with_time = UNet2DModel(**symmflow_unet2d_config(1, 11, 16, label_time=True, preset="tiny"))
    without = UNet2DModel(**symmflow_unet2d_config(1, 11, 16, label_time=False, preset="tiny"))
    assert with_time.config.in_channels == 12 == with_time.config.out_channels
    assert supports_label_time(with_time) and not supports_label_time(without)
    sample = torch.randn(3, 12, 16, 16)
    with torch.no_grad():
        assert predict_velocity(without, sample, 500.0).shape == sample.shape
        a = predict_velocity(with_time, sample, 500.0, 0.0)
        b = predict_velocity(with_time, sample, 500.0, 1000.0)
    assert not torch.allclose(a, b)  # the label time reaches the output
    with pytest.raises(ValueError, match="label_timestep"):
        predict_velocity(with_time, sample, 500.0)
    with pytest.raises(ValueError, match="Unknown UNet preset"):
        symmflow_unet2d_config(1, 1, 16, preset="huge")


def test_base_classes_importable_from_model_modules():
    from diffusers_symmflow.models.unets import unet_symmflow_2d, unet_symmflow_2d_condition

    for module in (unet_symmflow_2d, unet_symmflow_2d_condition):
        assert hasattr(module, "ModelMixin") and hasattr(module, "SchedulerMixin")
