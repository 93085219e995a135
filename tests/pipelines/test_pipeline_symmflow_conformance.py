"""What diffusers' common pipeline suite (`PipelineTesterMixin`) checks, for `SymmFlowPipeline`'s entry points.

Config and save/load round trips, tuple / dataclass output equivalence, batch consistency and batch-of-one identity,
every callback tensor input, dtype moves and every `output_type`, for `__call__`, `segment` and `classify` where they
apply; and the inputs refused before any model runs (non-finite `latents`, unbounded step counts). Tiny random
models on the CPU: the tests pin the plumbing, not the quality.
"""

import json

import numpy as np
import PIL.Image
import pytest
import torch
from pipeline_helpers import LATENT_IMAGE_SIZE as LATENT_SIZE
from pipeline_helpers import PIXEL_SIZE as SIZE
from pipeline_helpers import (
    _quiet,
    tiny_cls_pipeline,
    tiny_latent_pipeline,
    tiny_seg_pipeline,
)

import diffusers_symmflow  # noqa: F401  (the pipeline loader needs the component classes imported)
from diffusers_symmflow.pipelines import (
    SymmFlowClassificationOutput,
    SymmFlowGenerationOutput,
    SymmFlowPipeline,
    SymmFlowSegmentationOutput,
)
from diffusers_symmflow.schedulers import SymmFlowScheduler
from diffusers_symmflow.schedulers.scheduling_symmflow import MAX_INFERENCE_STEPS


@pytest.fixture
def pixel_seg(tiny_pixel_unet):
    """Grayscale 8x8, 3-class one-hot masks, a label time (conditional sampling), a background class."""
    return tiny_seg_pipeline(tiny_pixel_unet, background_class=0)


@pytest.fixture
def pixel_cls(tiny_pixel_unet):
    """RGB 8x8, the paper's scalar class code, no label time (joint only)."""
    return tiny_cls_pipeline(tiny_pixel_unet)


@pytest.fixture
def latent_seg(tiny_vae, tiny_latent_unet):
    return tiny_latent_pipeline(tiny_vae, tiny_latent_unet, default_generation_steps=2, default_prediction_steps=2)


@pytest.fixture(params=["pixel_seg", "latent_seg"])
def seg(request):
    return request.getfixturevalue(request.param)


def _size(pipe):
    return LATENT_SIZE if pipe.vae is not None else SIZE


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _masks(pipe, batch=1, seed=0):
    return np.random.default_rng(seed).integers(0, pipe.config.num_classes, size=(batch, _size(pipe), _size(pipe)))


def _images(pipe, batch=1, seed=0):
    return torch.rand(batch, pipe.num_pixel_channels, _size(pipe), _size(pipe), generator=_gen(seed))


def _generate(pipe, batch=1, **kwargs):
    """`__call__` on the pipeline's kind of label: masks for segmentation, class ids for classification."""
    kwargs.setdefault("num_inference_steps", 2)
    kwargs.setdefault("generator", _gen(0))
    kwargs.setdefault("output_type", "pt")
    if pipe.config.task == "segmentation":
        return pipe(mask=_masks(pipe, batch), **kwargs)
    return pipe(class_labels=list(range(batch)), **kwargs)


def _predict(pipe, batch=1, **kwargs):
    """`segment` for segmentation models, `classify` for classification models."""
    kwargs.setdefault("num_inference_steps", 2)
    kwargs.setdefault("generator", _gen(0))
    if pipe.config.task == "segmentation":
        kwargs.setdefault("output_type", "pt")
        return pipe.segment(_images(pipe, batch), **kwargs)
    return pipe.classify(_images(pipe, batch), **kwargs)


def _entry_points(pipe):
    """(name, call) for every entry point the pipeline's task has: generation and its prediction."""
    points = [("__call__", lambda **kw: _generate(pipe, **kw)), ("predict", lambda **kw: _predict(pipe, **kw))]
    if pipe.config.get("background_class") is not None:
        points.append(
            ("classify", lambda **kw: pipe.classify(_images(pipe), num_inference_steps=2, generator=_gen(0), **kw))
        )
    return points


def _assert_same(a, b, atol=0.0):
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, atol=atol, rtol=0)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, atol=atol, rtol=0)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y, atol)
    elif isinstance(a, PIL.Image.Image):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    else:
        assert a == b


def _fields(output):
    return tuple(output.values()) if hasattr(output, "values") else output


def _count_model_calls(pipe):
    calls = []
    for module in [pipe.unet] + ([pipe.vae] if pipe.vae is not None else []):
        module.register_forward_pre_hook(lambda *args: calls.append(1))
    return calls


# ----------------------------------------------------------------------------------------------------------------
# Config and save / load
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["pixel_seg", "pixel_cls", "latent_seg"])
def test_save_load_round_trip_keeps_config_and_outputs(which, request, tmp_path):
    pipe = request.getfixturevalue(which)
    pipe.save_pretrained(tmp_path)
    loaded = _quiet(SymmFlowPipeline.from_pretrained(tmp_path))
    settings = {k: v for k, v in pipe.config.items() if not k.startswith("_")}
    assert {k: v for k, v in loaded.config.items() if not k.startswith("_")} == settings
    scheduler_settings = {k: v for k, v in pipe.scheduler.config.items() if k != "_use_default_values"}
    assert {k: v for k, v in loaded.scheduler.config.items() if k != "_use_default_values"} == scheduler_settings
    for (name, call), (_, loaded_call) in zip(_entry_points(pipe), _entry_points(loaded)):
        # Reloaded weights may take other kernels (diffusers' own save/load test allows 1e-4).
        _assert_same(_fields(call()), _fields(loaded_call()), atol=1e-5)


def test_components_rebuild_the_pipeline_and_the_scheduler_from_its_config(pixel_seg):
    rebuilt = _quiet(
        SymmFlowPipeline(
            **pixel_seg.components,
            **{k: v for k, v in pixel_seg.config.items() if not k.startswith("_") and k not in pixel_seg.components},
        )
    )
    rebuilt.scheduler = SymmFlowScheduler.from_config(pixel_seg.scheduler.config)
    _assert_same(_fields(_generate(pixel_seg)), _fields(_generate(rebuilt)))


# A saved config edited into inconsistency (item 7 of issue 20): the MNIST-like layout, 1 image channel + 11 one-hot
# classes (digits 0-9 and a background, class 10) = 12 UNet channels.
MNIST_NAMES = [str(d) for d in range(10)] + ["background"]


@pytest.fixture
def mnist_like_dir(tiny_pixel_unet, tmp_path):
    unet = tiny_pixel_unet(image_channels=1, label_channels=11, sample_size=SIZE, label_time=False)
    pipe = SymmFlowPipeline(
        unet=unet,
        scheduler=SymmFlowScheduler(),
        num_classes=11,
        class_names=MNIST_NAMES,
        background_class=10,
        label_prediction="logits",
    )
    pipe.save_pretrained(tmp_path)
    json.dump(
        {"label_prediction": "logits", "label_time": "diagonal", "num_train_timesteps": 1000},
        open(tmp_path / "symmflow_objective.json", "w"),
    )
    return tmp_path


def _edit_json(path, **changes):
    config = json.load(open(path))
    for key, value in changes.items():
        if value is _REMOVE:
            config.pop(key, None)
        else:
            config[key] = value
    json.dump(config, open(path, "w"))


_REMOVE = object()


@pytest.mark.parametrize(
    "edit,match",
    [
        (
            {
                "num_classes": 9,
                "class_names": MNIST_NAMES[:9],
                "palette": [[i, i, i] for i in range(9)],
                "background_class": 8,
            },
            r"`image_channels` is 3 but the UNet was saved with 1.*`num_classes` is 9 but the UNet was saved with 11",
        ),
        ({"label_prediction": "velocity"}, r"`label_prediction` is 'velocity' but the UNet was saved with 'logits'"),
        ({"background_class": 3}, r"`background_class` is 3 but the UNet was saved with 10"),
        (
            {"task": "classification", "background_class": None},
            r"`task` is 'classification' but the UNet was saved with 'segmentation'",
        ),
    ],
    ids=["num_classes", "label_prediction", "background_class", "task"],
)
def test_an_edited_model_index_is_refused_naming_what_disagrees(mnist_like_dir, edit, match):
    from diffusers import DiffusionPipeline

    SymmFlowPipeline.from_pretrained(mnist_like_dir)  # unedited: loads
    _edit_json(mnist_like_dir / "model_index.json", **edit)
    with pytest.raises(ValueError, match=match):
        SymmFlowPipeline.from_pretrained(mnist_like_dir)
    with pytest.raises(ValueError, match=match):  # diffusers' own loader builds it through the same constructor
        DiffusionPipeline.from_pretrained(mnist_like_dir, trust_remote_code=True)


def test_an_edited_scheduler_scale_is_refused(mnist_like_dir):
    _edit_json(mnist_like_dir / "scheduler" / "scheduler_config.json", num_train_timesteps=500)
    with pytest.raises(ValueError, match=r"`num_train_timesteps` is 500 but the UNet was saved with 1000"):
        SymmFlowPipeline.from_pretrained(mnist_like_dir)


def test_a_pipeline_saved_before_the_record_is_checked_against_its_objective(mnist_like_dir):
    # No record in the UNet's config (pipelines saved before it existed): the objective beside the pipeline names the
    # label head and the timestep scale the model was trained with.
    _edit_json(mnist_like_dir / "unet" / "config.json", _symmflow_label_space=_REMOVE)
    SymmFlowPipeline.from_pretrained(mnist_like_dir)
    _edit_json(mnist_like_dir / "model_index.json", label_prediction="velocity")
    _edit_json(mnist_like_dir / "scheduler" / "scheduler_config.json", num_train_timesteps=500)
    with pytest.raises(
        ValueError,
        match=r"symmflow_objective.json.*`label_prediction` is 'logits' but the pipeline's "
        r"`label_prediction` is 'velocity'.*`num_train_timesteps` is 1000 but",
    ):
        SymmFlowPipeline.from_pretrained(mnist_like_dir)


def test_a_saved_unet_reused_for_other_settings_needs_its_record_cleared(mnist_like_dir):
    loaded = SymmFlowPipeline.from_pretrained(mnist_like_dir)
    settings = {"num_classes": 11, "background_class": None, "label_prediction": "logits"}
    with pytest.raises(ValueError, match="`background_class` is None but the UNet was saved with 10"):
        SymmFlowPipeline(unet=loaded.unet, scheduler=loaded.scheduler, **settings)
    loaded.unet.register_to_config(_symmflow_label_space=None)
    SymmFlowPipeline(unet=loaded.unet, scheduler=loaded.scheduler, **settings)


# ----------------------------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["pixel_seg", "pixel_cls", "latent_seg"])
def test_tuple_output_equals_the_dataclass(which, request):
    pipe = request.getfixturevalue(which)
    for name, call in _entry_points(pipe):
        as_dict, as_tuple = call(), call(return_dict=False)
        assert isinstance(
            as_dict, (SymmFlowGenerationOutput, SymmFlowSegmentationOutput, SymmFlowClassificationOutput)
        ), name
        assert isinstance(as_tuple, tuple), name
        fields = list(type(as_dict).__dataclass_fields__)
        assert len(as_tuple) == len(fields), name
        for field, value in zip(fields, as_tuple):
            _assert_same(getattr(as_dict, field), value)


@pytest.mark.parametrize("output_type", ["pil", "np", "pt", "latent"])
def test_every_output_type_of_generation(seg, output_type):
    out = _generate(seg, batch=2, output_type=output_type)
    size, channels = _size(seg), seg.num_pixel_channels
    if output_type == "pil":
        assert len(out.images) == 2 and out.images[0].size == (size, size)
    elif output_type == "np":
        assert out.images.shape == (2, size, size, channels) and out.images.dtype == np.float32
    elif output_type == "pt":
        assert out.images.shape == (2, channels, size, size)
    else:
        latent = size // seg.vae_scale_factor
        assert out.images.shape == (2, seg.num_image_channels, latent, latent)
        # The raw image side: decoding and post-processing it gives the "pt" output.
        decoded = seg.image_processor.postprocess(seg.decode_images(out.images), output_type="pt")
        torch.testing.assert_close(decoded, _generate(seg, batch=2, output_type="pt").images)


@pytest.mark.parametrize("output_type", ["pil", "np", "pt", "latent"])
def test_every_output_type_of_segment(seg, output_type):
    out = seg.segment(
        _images(seg, 2), num_inference_steps=2, num_samples=2, generator=_gen(0), output_type=output_type
    )
    size = _size(seg)
    if output_type == "latent":
        latent = size // seg.vae_scale_factor
        assert out.masks.shape == (4, seg.num_label_channels, latent, latent)  # 2 images x 2 samples
        assert out.colored_masks is None and out.scores is None and out.uncertainty is None
        # The raw label side: decoding it and voting gives the "pt" masks.
        labels = seg._aggregate_votes(seg.decode_labels(out.masks), 2)[0]
        expected = seg.segment(
            _images(seg, 2), num_inference_steps=2, num_samples=2, generator=_gen(0), output_type="pt"
        ).masks
        torch.testing.assert_close(labels, expected)
    elif output_type == "pil":
        assert len(out.masks) == 2 and out.masks[0].size == (size, size)
    else:
        assert tuple(out.masks.shape) == (2, size, size)


def test_latent_output_of_generation_is_the_state_the_loop_ends_in(pixel_seg):
    final = {}

    def keep(pipe, i, t, kwargs):
        final.update(kwargs)
        return {}

    out = _generate(
        pixel_seg,
        output_type="latent",
        callback_on_step_end=keep,
        callback_on_step_end_tensor_inputs=["image_latents"],
    )
    torch.testing.assert_close(out.images, final["image_latents"], rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------------------------
# Batches
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["pixel_seg", "pixel_cls", "latent_seg"])
def test_a_batch_equals_single_calls_with_the_same_generators(which, request):
    pipe = request.getfixturevalue(which)
    generators = [_gen(0), _gen(1)]
    batch_gen = _generate(pipe, batch=2, generator=generators).images
    batch_pred = _predict(pipe, batch=2, generator=[_gen(0), _gen(1)])
    images = _images(pipe, 2)
    for i in range(2):
        if pipe.config.task == "segmentation":
            single = pipe(mask=_masks(pipe, 2)[i : i + 1], num_inference_steps=2, generator=_gen(i), output_type="pt")
            pred = pipe.segment(images[i : i + 1], num_inference_steps=2, generator=_gen(i), output_type="pt")
            torch.testing.assert_close(batch_pred.masks[i : i + 1], pred.masks)
        else:
            single = pipe(class_labels=[i], num_inference_steps=2, generator=_gen(i), output_type="pt")
            pred = pipe.classify(images[i : i + 1], num_inference_steps=2, generator=_gen(i))
            torch.testing.assert_close(batch_pred.labels[i : i + 1], pred.labels)
        torch.testing.assert_close(batch_gen[i : i + 1], single.images, atol=1e-5, rtol=0)
        torch.testing.assert_close(batch_pred.scores[i : i + 1], pred.scores, atol=1e-5, rtol=0)


def test_a_batch_of_one_in_every_form_gives_the_same_output(pixel_seg):
    mask = _masks(pixel_seg)[0]
    forms = [mask, mask[None], [mask], torch.from_numpy(mask), [PIL.Image.fromarray(mask.astype(np.uint8))]]
    outputs = [pixel_seg(mask=m, num_inference_steps=2, generator=_gen(0), output_type="pt").images for m in forms]
    for out in outputs[1:]:
        torch.testing.assert_close(out, outputs[0], rtol=0, atol=0)
    image = _images(pixel_seg)
    forms = [image, image[0], [image[0]], image[0].permute(1, 2, 0).numpy()]
    masks = [pixel_seg.segment(x, num_inference_steps=2, generator=_gen(0), output_type="pt").masks for x in forms]
    for out in masks[1:]:
        torch.testing.assert_close(out, masks[0], rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------------------------
# Callbacks (item 15 of issue 20: `latents` in the callback is laid out as the call's `latents` argument)
# ----------------------------------------------------------------------------------------------------------------


def _record_callback(store, replace=None):
    def callback(pipe, i, t, kwargs):
        store.append({name: value.clone() for name, value in kwargs.items()})
        return {replace: torch.zeros_like(kwargs[replace])} if replace and i == pipe.num_timesteps - 1 else {}

    return callback


@pytest.mark.parametrize("which", ["pixel_seg", "pixel_cls", "latent_seg"])
def test_every_callback_tensor_input_has_the_documented_shape(which, request):
    pipe = request.getfixturevalue(which)
    c_x, c_y = pipe.num_image_channels, pipe.num_label_channels
    side = _size(pipe) // pipe.vae_scale_factor
    for name, call in _entry_points(pipe):
        store = []
        call(
            callback_on_step_end=_record_callback(store),
            callback_on_step_end_tensor_inputs=list(pipe._callback_tensor_inputs),
        )
        assert len(store) == 2 and all(set(kw) == set(pipe._callback_tensor_inputs) for kw in store), name
        kwargs = store[-1]
        assert kwargs["image_latents"].shape == (1, c_x, side, side), name
        assert kwargs["label_latents"].shape == (1, c_y, side, side), name
        moving = "image_latents" if name == "__call__" else "label_latents"
        torch.testing.assert_close(kwargs["latents"], kwargs[moving], rtol=0, atol=0)
        assert kwargs["pred_original_sample"].shape == kwargs["latents"].shape, name


@pytest.mark.parametrize("which", ["pixel_seg", "latent_seg"])
def test_callback_latents_match_the_latents_argument(which, request):
    pipe = request.getfixturevalue(which)
    side = _size(pipe) // pipe.vae_scale_factor
    noise = torch.randn(2, pipe.num_image_channels, side, side, generator=_gen(3))
    store = []
    out = pipe(
        mask=_masks(pipe, 2),
        latents=noise,
        num_inference_steps=2,
        output_type="latent",
        callback_on_step_end=_record_callback(store),
    )
    assert store[0]["latents"].shape == noise.shape
    torch.testing.assert_close(out.images, store[-1]["latents"], rtol=0, atol=0)
    label_noise = torch.randn(2, pipe.num_label_channels, side, side, generator=_gen(4))
    store.clear()
    out = pipe.segment(
        _images(pipe, 2),
        latents=label_noise,
        num_inference_steps=2,
        output_type="latent",
        callback_on_step_end=_record_callback(store),
    )
    assert store[0]["latents"].shape == label_noise.shape
    torch.testing.assert_close(out.masks, store[-1]["latents"], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["latents", "image_latents", "label_latents"])
def test_a_returned_callback_tensor_replaces_its_side(pixel_seg, name):
    store = []
    out = _generate(
        pixel_seg,
        output_type="latent",
        callback_on_step_end=_record_callback(store, replace=name),
        callback_on_step_end_tensor_inputs=[name, "image_latents"],
    )
    replaced_image = name in ("latents", "image_latents")
    assert torch.all(out.images == 0) == replaced_image
    store.clear()
    out = pixel_seg.segment(
        _images(pixel_seg),
        num_inference_steps=2,
        generator=_gen(0),
        output_type="latent",
        callback_on_step_end=_record_callback(store, replace=name),
        callback_on_step_end_tensor_inputs=[name],
    )
    replaced_label = name in ("latents", "label_latents")
    assert torch.all(out.masks == 0) == replaced_label


# ----------------------------------------------------------------------------------------------------------------
# dtypes
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["pixel_seg", "pixel_cls", "latent_seg"])
def test_to_float64_runs_every_entry_point_and_agrees_with_float32(which, request):
    # Noise is drawn in the model's dtype (a float64 draw differs from a float32 one), so the comparison starts both
    # dtypes from the same float32 noise, passed as `latents`.
    pipe = request.getfixturevalue(which)
    side = _size(pipe) // pipe.vae_scale_factor
    noise = torch.randn(1, pipe.num_image_channels, side, side, generator=_gen(5))
    label_noise = torch.randn(1, pipe.num_label_channels, side, side, generator=_gen(6))

    def run():
        outputs = [
            _generate(pipe, latents=noise, output_type="latent").images,
            _generate(pipe, latents=noise, output_type="pt").images,
        ]
        if pipe.config.task == "segmentation":
            outputs.append(
                pipe.segment(_images(pipe), latents=label_noise, num_inference_steps=2, output_type="latent").masks
            )
            outputs.append(
                pipe.segment(_images(pipe), latents=label_noise, num_inference_steps=2, output_type="pt").scores
            )
        else:
            outputs.append(pipe.classify(_images(pipe), latents=label_noise, num_inference_steps=2).scores)
        return outputs

    reference = run()
    pipe.to(torch.float64)
    assert pipe.unet.dtype == torch.float64 and (pipe.vae is None or pipe.vae.dtype == torch.float64)
    got = run()
    assert got[0].dtype == torch.float64  # the raw state stays in the model's dtype
    for a, b in zip(got, reference):
        torch.testing.assert_close(a.float(), b.float(), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------------------------------------------
# Refused before any model runs
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_latents_are_refused_before_any_model_runs(seg, bad):
    side = _size(seg) // seg.vae_scale_factor
    calls = _count_model_calls(seg)
    noise = torch.randn(1, seg.num_image_channels, side, side)
    noise[0, 0, 0, 0] = bad
    with pytest.raises(ValueError, match=r"`latents` holds 1 NaN or infinite"):
        seg(mask=_masks(seg), latents=noise, num_inference_steps=2)
    label_noise = torch.randn(1, seg.num_label_channels, side, side)
    label_noise[0, -1, -1, -1] = bad
    with pytest.raises(ValueError, match=r"`latents` holds 1 NaN or infinite"):
        seg.segment(_images(seg), latents=label_noise, num_inference_steps=2)
    if seg.config.background_class is not None:
        with pytest.raises(ValueError, match=r"`latents` holds 1 NaN or infinite"):
            seg.classify(_images(seg), latents=label_noise, num_inference_steps=2)
    assert calls == []


def test_step_counts_beyond_the_bound_are_refused_before_the_grid_is_built(pixel_seg, pixel_cls):
    calls = _count_model_calls(pixel_seg) + _count_model_calls(pixel_cls)
    match = rf"`num_inference_steps` must be at most {MAX_INFERENCE_STEPS:,}.*1,000,000,000"
    for call in (
        lambda: _generate(pixel_seg, num_inference_steps=10**9),
        lambda: _predict(pixel_seg, num_inference_steps=10**9),
        lambda: pixel_seg.classify(_images(pixel_seg), num_inference_steps=10**9),
        lambda: pixel_seg.invert(_images(pixel_seg), _masks(pixel_seg), num_inference_steps=10**9),
        lambda: pixel_seg.edit(_images(pixel_seg), _masks(pixel_seg), num_inference_steps=10**9),
        lambda: _generate(pixel_cls, num_inference_steps=10**9),
        lambda: _predict(pixel_cls, num_inference_steps=10**9),
    ):
        with pytest.raises(ValueError, match=match):
            call()
    assert calls == []
    assert pixel_seg.scheduler.timesteps is None  # no grid was built


# ----------------------------------------------------------------------------------------------------------------
# The one reader, seen from the pipeline (items 5 and 8 of issue 20)
# ----------------------------------------------------------------------------------------------------------------


def test_hw1_and_int64_colour_masks_generate_like_hw_masks(pixel_seg):
    mask = _masks(pixel_seg)[0]
    expected = pixel_seg(mask=mask, num_inference_steps=2, generator=_gen(0), output_type="pt").images
    palette = np.asarray(pixel_seg.label_codec.palette_array, dtype=np.int64)
    for form in (mask[..., None], torch.from_numpy(mask[..., None]), palette[mask]):
        out = pixel_seg(mask=form, num_inference_steps=2, generator=_gen(0), output_type="pt").images
        torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_float_and_16_bit_images_segment_like_their_8_bit_twins(pixel_seg, tmp_path):
    eight = np.random.default_rng(0).integers(0, 256, size=(SIZE, SIZE), dtype=np.uint8)
    expected = pixel_seg.segment(
        PIL.Image.fromarray(eight), num_inference_steps=2, generator=_gen(0), output_type="pt"
    ).scores
    float_image = PIL.Image.fromarray(eight.astype(np.float32) / 255.0, mode="F")
    sixteen = PIL.Image.fromarray(eight.astype(np.uint16) * 257)  # the same levels on 16 bits
    sixteen.save(tmp_path / "sixteen.png")
    for image in (float_image, sixteen, PIL.Image.open(tmp_path / "sixteen.png")):
        scores = pixel_seg.segment(image, num_inference_steps=2, generator=_gen(0), output_type="pt").scores
        torch.testing.assert_close(scores, expected, atol=1e-5, rtol=0)
