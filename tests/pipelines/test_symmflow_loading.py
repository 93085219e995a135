"""Saving and loading SymmFlow pipelines (pipelines/symmflow/symmflow_loading.py): safetensors only, round trips of
both back-ends, plain diffusers loading with `trust_remote_code`, and replacing the scheduler at load."""

import json
import os

import numpy as np
import pytest
import torch
from pipeline_helpers import (
    CLS_CLASSES,
    LATENT_NAMES,
    LATENT_PALETTE,
    PIXEL_SIZE,
    _gen,
    _images,
    _masks,
    _quiet,
    tiny_cls_pipeline,
)

import diffusers_symmflow  # noqa: F401  (the pipeline loader needs the component classes imported)
from diffusers_symmflow.pipelines import (
    SymmFlowPipeline,
)
from diffusers_symmflow.schedulers import SymmFlowScheduler


# ----------------------------------------------------------------------------------------------------------------
# Save / load
# ----------------------------------------------------------------------------------------------------------------


def _assert_safetensors_only(directory, components):
    for component in components:
        files = os.listdir(os.path.join(directory, component))
        assert any(f.endswith(".safetensors") for f in files), (component, files)
        assert not any(f.endswith(".bin") for f in files), (component, files)


def test_save_load_latent_pipeline(latent_seg_pipe, tmp_path):
    pipe = latent_seg_pipe
    pipe.save_pretrained(tmp_path)
    _assert_safetensors_only(tmp_path, ["unet", "vae"])
    loaded = _quiet(SymmFlowPipeline.from_pretrained(tmp_path))
    assert type(loaded.unet) is type(pipe.unet) and type(loaded.scheduler) is SymmFlowScheduler
    for key in (
        "task",
        "label_encoding",
        "num_classes",
        "palette",
        "class_names",
        "ignore_index",
        "default_generation_steps",
        "default_prediction_steps",
    ):
        assert loaded.config[key] == pipe.config[key], key
    assert loaded.config.palette == LATENT_PALETTE and loaded.config.ignore_index == 0
    assert loaded.config.default_generation_steps == 3 and loaded.config.default_prediction_steps == 2
    torch.testing.assert_close(loaded.unet.empty_prompt_embeds, pipe.unet.empty_prompt_embeds)
    # The label-time input is part of the saved UNet config, so the reloaded pipeline samples conditionally.
    assert loaded.unet.config.class_embed_type == "timestep" and loaded.supports_conditional_sampling

    mask, image = _masks(pipe), _images(pipe)
    np.testing.assert_array_equal(
        loaded(mask=mask, generator=_gen(0), output_type="np").images,
        pipe(mask=mask, generator=_gen(0), output_type="np").images,
    )
    np.testing.assert_array_equal(
        loaded.segment(image, generator=_gen(0)).scores, pipe.segment(image, generator=_gen(0)).scores
    )
    assert loaded.scheduler.mode == "conditional"


def test_scalar_pipeline_uses_the_authors_code_and_keeps_beta(tiny_pixel_unet, tmp_path):
    pipe = tiny_cls_pipeline(tiny_pixel_unet, beta=4.0)
    code = pipe.encode_labels(torch.tensor([0, CLS_CLASSES - 1]), (PIXEL_SIZE, PIXEL_SIZE))
    assert code[0].eq(-2.0).all() and code[1].eq(2.0).all()
    noisy = pipe.encode_labels(torch.tensor([0]), (PIXEL_SIZE, PIXEL_SIZE), beta=4.0, generator=_gen(0))
    assert float((noisy + 2.0).abs().max()) <= 2.0 / (CLS_CLASSES - 1) / 2.0 + 1e-6
    assert pipe.decode_labels(code).labels.tolist() == [0, CLS_CLASSES - 1]
    pipe.save_pretrained(tmp_path)
    loaded = SymmFlowPipeline.from_pretrained(tmp_path)
    assert loaded.config.beta == 4.0 and loaded.label_codec.scalar_amplitude == 2.0


def test_save_load_pixel_pipeline_without_vae(pixel_cls_pipe, tmp_path):
    pipe = pixel_cls_pipe
    pipe.save_pretrained(tmp_path)
    _assert_safetensors_only(tmp_path, ["unet"])
    assert not (tmp_path / "vae").exists()
    loaded = _quiet(SymmFlowPipeline.from_pretrained(tmp_path))
    assert loaded.vae is None and loaded.config.class_names == pipe.config.class_names
    assert loaded.label_codec.num_channels == 1 and loaded.num_image_channels == 3
    image = _images(pipe, batch=2)
    torch.testing.assert_close(
        loaded.classify(image, generator=_gen(0)).scores, pipe.classify(image, generator=_gen(0)).scores
    )
    # A UNet without the label-time input reloads as a joint-only (paper) model.
    assert not loaded.supports_conditional_sampling and loaded.scheduler.mode == "joint"
    np.testing.assert_array_equal(
        loaded(class_labels=[0, 3], num_inference_steps=2, generator=_gen(0), output_type="np").images,
        pipe(class_labels=[0, 3], num_inference_steps=2, generator=_gen(0), output_type="np").images,
    )


def test_plain_diffusers_loads_a_saved_pipeline_with_trust_remote_code(latent_seg_pipe, tmp_path):
    from diffusers import DiffusionPipeline

    from diffusers_symmflow.pipelines.pipeline_symmflow import CUSTOM_PIPELINE_MODULE

    pipe = latent_seg_pipe
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    assert index["_class_name"] == [CUSTOM_PIPELINE_MODULE, "SymmFlowPipeline"]
    assert (tmp_path / f"{CUSTOM_PIPELINE_MODULE}.py").is_file()

    with pytest.raises(ValueError, match="trust_remote_code=True"):
        DiffusionPipeline.from_pretrained(tmp_path)
    loaded = _quiet(DiffusionPipeline.from_pretrained(tmp_path, trust_remote_code=True))
    assert type(loaded) is SymmFlowPipeline and type(loaded.scheduler) is SymmFlowScheduler
    assert loaded.config.palette == LATENT_PALETTE and loaded.config.class_names == LATENT_NAMES
    image = _images(pipe)
    np.testing.assert_array_equal(
        loaded.segment(image, generator=_gen(0)).scores, pipe.segment(image, generator=_gen(0)).scores
    )
    # Saving again keeps the format; the class loads its own saves without remote code, and old saves too.
    loaded.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "model_index.json").read_text())["_class_name"][1] == "SymmFlowPipeline"
    index["_class_name"] = "SymmFlowPipeline"
    (tmp_path / "model_index.json").write_text(json.dumps(index))
    assert type(SymmFlowPipeline.from_pretrained(tmp_path)) is SymmFlowPipeline


def test_the_loader_module_names_the_missing_package(tmp_path, monkeypatch):
    import sys

    from diffusers_symmflow.pipelines.pipeline_symmflow import _CUSTOM_PIPELINE_CODE

    monkeypatch.setitem(sys.modules, "diffusers_symmflow", None)  # as if the package were not installed
    with pytest.raises(ImportError, match="needs the diffusers-symmflow package"):
        exec(compile(_CUSTOM_PIPELINE_CODE, "pipeline_symmflow.py", "exec"), {})


def test_replace_scheduler_at_load(pixel_seg_pipe, tmp_path):
    pixel_seg_pipe.save_pretrained(tmp_path)
    loaded = _quiet(SymmFlowPipeline.from_pretrained(tmp_path, scheduler=SymmFlowScheduler(solver="heun")))
    assert loaded.scheduler.config.solver == "heun"
    calls = []
    loaded(
        mask=_masks(loaded),
        num_inference_steps=3,
        output_type="np",
        callback_on_step_end=lambda pipe, i, t, kw: calls.append(i) or kw,
    )
    assert calls == list(range(6))  # Heun: two model calls per step
