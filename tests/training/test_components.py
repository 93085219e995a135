"""Building the models to train: pixel UNets from presets or JSON files, LoRA adapters and merging them."""

import json

import pytest
import torch

from diffusers_symmflow.training.components import add_lora, load_pixel_unet, unet_without_adapters


def test_unet_without_adapters_merges_lora_into_a_plain_model(tiny_latent_unet):
    from peft import LoraConfig

    unet = tiny_latent_unet(label_time=True)
    unet.add_adapter(LoraConfig(r=2, lora_alpha=2, init_lora_weights="gaussian", target_modules=["to_q", "to_v"]))
    sample, timestep = torch.randn(1, 8, 8, 8), torch.tensor([500.0])
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.1)  # gaussian init leaves B at zero; make the adapters matter
        expected = unet(sample, timestep, class_labels=torch.tensor([200.0])).sample
        merged = unet_without_adapters(unet)
        actual = merged(sample, timestep, class_labels=torch.tensor([200.0])).sample
    assert not any("lora" in key for key in merged.state_dict())
    assert any("lora" in key for key in unet.state_dict())  # the training model keeps its adapters
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
    plain = tiny_latent_unet(label_time=False)
    assert unet_without_adapters(plain) is plain


def test_load_pixel_unet_from_a_preset_or_a_json_file(tmp_path):
    unet = load_pixel_unet("tiny", image_channels=1, label_channels=3, resolution=8, label_time=True)
    assert (unet.config.in_channels, unet.config.out_channels, unet.config.sample_size) == (4, 4, 8)
    assert unet.config.class_embed_type == "timestep"
    # A JSON file overrides the "small" preset; keys starting with "_" (e.g. a saved config's) are ignored.
    config = tmp_path / "unet.json"
    config.write_text(json.dumps({"block_out_channels": [16, 32, 32], "layers_per_block": 2, "_class_name": "x"}))
    unet = load_pixel_unet(str(config), image_channels=3, label_channels=1, resolution=8, label_time=False)
    assert tuple(unet.config.block_out_channels) == (16, 32, 32) and unet.config.layers_per_block == 2
    assert unet.config.in_channels == 4 and unet.config.down_block_types[-1] == "AttnDownBlock2D"  # "small"'s
    assert unet.config.class_embed_type is None


def test_load_pixel_unet_errors_name_its_arguments(tmp_path):
    config = tmp_path / "unet.json"
    config.write_text(json.dumps({"in_channels": 5, "sample_size": 64}))
    with pytest.raises(
        ValueError, match=r"`unet_config` '.*unet.json' sets \['in_channels', 'sample_size'\], .* and `label_time`"
    ):
        load_pixel_unet(str(config), image_channels=1, label_channels=3, resolution=32, label_time=True)
    with pytest.raises(ValueError, match=r"`unet_config` 'huge' is neither a preset \(\[.*'narrow'.*\]\) nor a JSON"):
        load_pixel_unet("huge", image_channels=1, label_channels=3, resolution=32, label_time=True)
    with pytest.raises(ValueError, match=r"`unet_config` 'tiny' downsamples 1 times.*got 9\. Pass `resolution` 10 "):
        load_pixel_unet("tiny", image_channels=1, label_channels=3, resolution=9, label_time=True)


def test_add_lora_trains_the_adapters_and_the_layers_symmflow_changed(tiny_latent_unet):
    unet = tiny_latent_unet(label_time=True)
    add_lora(unet, rank=2)
    trained = {name for name, parameter in unet.named_parameters() if parameter.requires_grad}
    assert trained and all(
        "lora_" in name or name.split(".")[0] in ("conv_in", "conv_out", "class_embedding") for name in trained
    )
    assert {name.split(".")[0] for name in trained} >= {"conv_in", "conv_out", "class_embedding"}
    lora_modules = {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in trained if "lora_" in name}
    assert lora_modules <= {"to_q", "to_k", "to_v", "0"} and lora_modules  # to_out.0 ends in "0"
    assert unet.peft_config["default"].lora_alpha == 2  # alpha defaults to the rank
