"""SymmFlowPipeline on tiny random models, pixel and latent back-ends (CPU, no downloads).

Random weights say nothing about quality; these tests pin the plumbing a user relies on: shapes, types, ranges,
determinism, batching, the sampling modes and callbacks, input validation before any model runs, oracle generation
and the logits label head. Beside this file, by module: `test_pipeline_symmflow_prediction.py` (votes, oracle
segmentation / classification), `test_symmflow_loading.py` (save / load), `test_symmflow_image_processing.py` (input
formats), `_edit`, `_guidance` and `_conformance` (diffusers' pipeline contract). Fixtures: `conftest.py`.
"""

import json
import warnings

import numpy as np
import PIL.Image
import pytest
import torch
from pipeline_helpers import (
    CLS_CLASSES,
    LATENT_CLASSES,
    PIXEL_SIZE,
    SEG_CLASSES,
    _count_model_calls,
    _gen,
    _images,
    _masks,
    _quiet,
    _size,
    tiny_cls_pipeline,
    tiny_seg_pipeline,
)

import diffusers_symmflow  # noqa: F401  (the pipeline loader needs the component classes imported)
from diffusers_symmflow.labels import LabelCodec
from diffusers_symmflow.pipelines import (
    SymmFlowClassificationOutput,
    SymmFlowGenerationOutput,
    SymmFlowPipeline,
    SymmFlowSegmentationOutput,
)
from diffusers_symmflow.schedulers import SymmFlowScheduler


# ----------------------------------------------------------------------------------------------------------------
# Output types, shapes, ranges
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("output_type", ["pil", "np", "pt"])
def test_generate_output_types(seg_pipe, output_type):
    pipe, size = seg_pipe, _size(seg_pipe)
    channels = pipe.num_pixel_channels
    out = pipe(mask=_masks(pipe, batch=2), num_inference_steps=2, generator=_gen(0), output_type=output_type)
    assert isinstance(out, SymmFlowGenerationOutput)
    images = out.images
    if output_type == "pil":
        assert len(images) == 2 and all(isinstance(im, PIL.Image.Image) for im in images)
        assert images[0].size == (size, size) and images[0].mode == ("L" if channels == 1 else "RGB")
    elif output_type == "np":
        assert isinstance(images, np.ndarray) and images.shape == (2, size, size, channels)
        assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 1
    else:
        assert isinstance(images, torch.Tensor) and images.shape == (2, channels, size, size)
        assert images.min() >= 0 and images.max() <= 1


def test_generate_from_class_labels(pixel_cls_pipe):
    pipe = pixel_cls_pipe
    out = pipe(
        class_labels=[3, 1], num_images_per_prompt=2, num_inference_steps=2, generator=_gen(0), output_type="np"
    )
    assert out.images.shape == (4, PIXEL_SIZE, PIXEL_SIZE, 3)
    # Two images per label draw different noise.
    assert not np.allclose(out.images[0], out.images[1])
    assert isinstance(pipe(class_labels=2, num_inference_steps=1, output_type="pil").images[0], PIL.Image.Image)


@pytest.mark.parametrize("output_type", ["np", "pt", "pil"])
def test_segment_output_types(seg_pipe, output_type):
    pipe, size, k = seg_pipe, _size(seg_pipe), seg_pipe.config.num_classes
    out = pipe.segment(_images(pipe, batch=2), generator=_gen(0), output_type=output_type)
    assert isinstance(out, SymmFlowSegmentationOutput)
    assert out.uncertainty is None
    if output_type == "np":
        assert out.masks.dtype == np.int64 and out.masks.shape == (2, size, size)
        assert out.colored_masks.dtype == np.uint8 and out.colored_masks.shape == (2, size, size, 3)
        masks, colored, scores = out.masks, out.colored_masks, out.scores
        assert isinstance(scores, np.ndarray)
    elif output_type == "pt":
        assert out.masks.dtype == torch.long and out.masks.shape == (2, size, size)
        assert out.colored_masks.dtype == torch.uint8 and out.colored_masks.shape == (2, 3, size, size)
        masks, colored, scores = out.masks.numpy(), out.colored_masks.permute(0, 2, 3, 1).numpy(), out.scores.numpy()
    else:
        assert all(m.mode == "P" and m.size == (size, size) for m in out.masks)
        assert all(c.mode == "RGB" and c.size == (size, size) for c in out.colored_masks)
        masks = np.stack([np.asarray(m) for m in out.masks]).astype(np.int64)
        colored = np.stack([np.asarray(c) for c in out.colored_masks])
        # A "P" mask displays in the model's colours.
        np.testing.assert_array_equal(np.asarray(out.masks[0].convert("RGB")), colored[0])
        scores = out.scores
    assert masks.min() >= 0 and masks.max() < k
    palette = np.asarray(pipe.config.palette, dtype=np.uint8)
    np.testing.assert_array_equal(colored, palette[masks])
    assert scores.shape == (2, k, size, size)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(scores.argmax(axis=1), masks)


def test_classify_outputs(pixel_cls_pipe):
    pipe = pixel_cls_pipe
    out = pipe.classify(_images(pipe, batch=3), generator=_gen(0))
    assert isinstance(out, SymmFlowClassificationOutput)
    assert out.labels.dtype == torch.long and out.labels.shape == (3,)
    assert out.scores.shape == (3, CLS_CLASSES)
    torch.testing.assert_close(out.scores.sum(dim=1), torch.ones(3))
    assert out.class_names == [pipe.config.class_names[i] for i in out.labels.tolist()]
    assert 0 <= out.labels.min() and out.labels.max() < CLS_CLASSES


@pytest.mark.parametrize("method", ["generate", "segment", "classify"])
def test_dict_and_tuple_outputs_agree(pixel_seg_pipe, pixel_cls_pipe, method):
    if method == "generate":
        call = lambda **kw: pixel_seg_pipe(mask=_masks(pixel_seg_pipe), output_type="np", **kw)  # noqa: E731
    elif method == "segment":
        call = lambda **kw: pixel_seg_pipe.segment(_images(pixel_seg_pipe), num_samples=3, **kw)  # noqa: E731
    else:
        call = lambda **kw: pixel_cls_pipe.classify(_images(pixel_cls_pipe), **kw)  # noqa: E731
    as_dict = call(generator=_gen(3), num_inference_steps=2)
    as_tuple = call(generator=_gen(3), num_inference_steps=2, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == len(as_dict.__dataclass_fields__)
    for name, value in zip(as_dict.__dataclass_fields__, as_tuple):
        expected = getattr(as_dict, name)
        if isinstance(expected, torch.Tensor):
            torch.testing.assert_close(value, expected, rtol=0, atol=0)
        elif isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(value, expected)
        else:
            assert value == expected


# ----------------------------------------------------------------------------------------------------------------
# Determinism, batching, noise inputs
# ----------------------------------------------------------------------------------------------------------------


def test_same_generator_same_output(seg_pipe):
    pipe = seg_pipe
    mask, image = _masks(pipe), _images(pipe)
    first = pipe(mask=mask, num_inference_steps=2, generator=_gen(7), output_type="np").images
    second = pipe(mask=mask, num_inference_steps=2, generator=_gen(7), output_type="np").images
    np.testing.assert_array_equal(first, second)
    other = pipe(mask=mask, num_inference_steps=2, generator=_gen(8), output_type="np").images
    assert not np.array_equal(first, other)
    seg_a = pipe.segment(image, num_samples=2, generator=_gen(7))
    seg_b = pipe.segment(image, num_samples=2, generator=_gen(7))
    np.testing.assert_array_equal(seg_a.scores, seg_b.scores)
    np.testing.assert_array_equal(seg_a.uncertainty, seg_b.uncertainty)


def test_batch_equals_single_calls(seg_pipe):
    pipe = seg_pipe
    masks, images = _masks(pipe, batch=2), _images(pipe, batch=2)
    batch = pipe(mask=masks, num_inference_steps=2, generator=[_gen(1), _gen(2)], output_type="np").images
    for i, seed in enumerate((1, 2)):
        single = pipe(mask=masks[i], num_inference_steps=2, generator=_gen(seed), output_type="np").images
        np.testing.assert_allclose(batch[i], single[0], atol=1e-5)

    seg = pipe.segment(images, num_samples=3, generator=[_gen(1), _gen(2)], output_type="pt")
    for i, seed in enumerate((1, 2)):
        single = pipe.segment(images[i : i + 1], num_samples=3, generator=_gen(seed), output_type="pt")
        torch.testing.assert_close(seg.scores[i], single.scores[0])
        torch.testing.assert_close(seg.masks[i], single.masks[0])
        torch.testing.assert_close(seg.uncertainty[i], single.uncertainty[0], atol=1e-5, rtol=0)


def test_classify_batch_equals_single_calls(pixel_cls_pipe):
    pipe = pixel_cls_pipe
    images = _images(pipe, batch=2)
    batch = pipe.classify(images, num_samples=2, generator=[_gen(4), _gen(5)])
    for i, seed in enumerate((4, 5)):
        single = pipe.classify(images[i], num_samples=2, generator=_gen(seed))
        torch.testing.assert_close(batch.scores[i], single.scores[0], atol=1e-5, rtol=0)
        assert batch.labels[i] == single.labels[0]


def test_latents_argument_replaces_the_noise(pixel_seg_pipe):
    pipe = pixel_seg_pipe
    noise = torch.randn(1, pipe.num_image_channels, PIXEL_SIZE, PIXEL_SIZE, generator=_gen(0))
    mask = _masks(pipe)
    from_latents = pipe(mask=mask, num_inference_steps=2, latents=noise, output_type="pt").images
    from_generator = pipe(mask=mask, num_inference_steps=2, generator=_gen(0), output_type="pt").images
    torch.testing.assert_close(from_latents, from_generator)

    label_noise = torch.randn(1, pipe.num_label_channels, PIXEL_SIZE, PIXEL_SIZE, generator=_gen(0))
    image = _images(pipe)
    seg_latents = pipe.segment(image, latents=label_noise, output_type="pt").scores
    seg_generator = pipe.segment(image, generator=_gen(0), output_type="pt").scores
    torch.testing.assert_close(seg_latents, seg_generator)


def test_to_float64_matches_float32(pixel_seg_pipe):
    pipe = pixel_seg_pipe
    noise = torch.randn(1, pipe.num_image_channels, PIXEL_SIZE, PIXEL_SIZE, generator=_gen(0))
    mask = _masks(pipe)
    single = pipe(mask=mask, num_inference_steps=2, latents=noise, output_type="pt").images
    pipe.to("cpu", torch.float64)
    assert pipe.unet.dtype == torch.float64
    double = pipe(mask=mask, num_inference_steps=2, latents=noise, output_type="pt").images
    torch.testing.assert_close(double.float(), single, atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------------------------------------------
# Sampling modes and callbacks
# ----------------------------------------------------------------------------------------------------------------


def test_default_sampling_mode_follows_the_model(
    pixel_seg_pipe, pixel_cls_pipe, latent_seg_pipe, tiny_vae, tiny_latent_unet
):
    assert pixel_seg_pipe.supports_conditional_sampling and latent_seg_pipe.supports_conditional_sampling
    assert not pixel_cls_pipe.supports_conditional_sampling
    pixel_seg_pipe.segment(_images(pixel_seg_pipe))
    assert pixel_seg_pipe.scheduler.mode == "conditional"
    pixel_cls_pipe.classify(_images(pixel_cls_pipe))
    assert pixel_cls_pipe.scheduler.mode == "joint"
    no_label_time = _quiet(
        SymmFlowPipeline(
            unet=tiny_latent_unet(label_time=False),
            scheduler=SymmFlowScheduler(),
            vae=tiny_vae(),
            label_encoding="palette",
            num_classes=LATENT_CLASSES,
        )
    )
    assert not no_label_time.supports_conditional_sampling
    # One resolver: what a model supports and what None means (evaluation and training read the same).
    assert no_label_time.sampling_modes == ["joint"] and no_label_time.default_sampling_mode == "joint"
    assert pixel_seg_pipe.sampling_modes == ["joint", "conditional"]
    assert pixel_seg_pipe.default_sampling_mode == "conditional"
    no_label_time(mask=_masks(no_label_time), num_inference_steps=1)
    assert no_label_time.scheduler.mode == "joint"
    pixel_seg_pipe.segment(_images(pixel_seg_pipe), sampling_mode="joint")
    assert pixel_seg_pipe.scheduler.mode == "joint"


@pytest.mark.parametrize("call", ["generate", "classify"])
def test_conditional_needs_a_label_time(pixel_cls_pipe, call):
    pipe = pixel_cls_pipe
    calls = _count_model_calls(pipe)
    with pytest.raises(ValueError, match='trained without a label time input.*sampling_mode="joint"|label_time mixed'):
        if call == "generate":
            pipe(class_labels=[1], sampling_mode="conditional")
        else:
            pipe.classify(_images(pipe), sampling_mode="conditional")
    assert calls == []


def test_conditional_generation_holds_the_label_clean(pixel_seg_pipe):
    """In conditional mode the scheduler leaves the label side exactly at its clean code at every step."""
    pipe = pixel_seg_pipe
    mask = torch.from_numpy(_masks(pipe))
    clean = pipe.encode_labels(mask, (PIXEL_SIZE, PIXEL_SIZE))
    seen = []

    def callback(pipe, i, t, kwargs):
        seen.append(kwargs["label_latents"].clone())
        return kwargs

    pipe(
        mask=mask,
        num_inference_steps=4,
        generator=_gen(0),
        sampling_mode="conditional",
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["label_latents"],
        output_type="np",
    )
    assert len(seen) == 4 and all(torch.equal(s, clean) for s in seen)
    assert torch.all(pipe.scheduler.label_timesteps == 0)

    seen.clear()
    pipe(
        mask=mask,
        num_inference_steps=4,
        generator=_gen(0),
        sampling_mode="joint",
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["label_latents"],
        output_type="np",
    )
    assert not torch.equal(seen[-1], clean)  # the paper's ODE turns the label into noise meanwhile


def test_callback_on_step_end_reads_and_replaces_latents(pixel_seg_pipe):
    pipe = pixel_seg_pipe
    shapes = []

    def callback(pipe, i, t, kwargs):
        shapes.append((i, tuple(kwargs["latents"].shape), tuple(kwargs["pred_original_sample"].shape)))
        if i == pipe.scheduler.timesteps.numel() - 1:
            return {"latents": torch.zeros_like(kwargs["latents"])}
        return {}

    out = pipe(
        mask=_masks(pipe, batch=2),
        num_inference_steps=3,
        generator=_gen(0),
        output_type="np",
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["latents", "pred_original_sample"],
    )
    image_side = (2, pipe.num_image_channels, PIXEL_SIZE, PIXEL_SIZE)  # as the `latents` argument
    assert shapes == [(i, image_side, image_side) for i in range(3)]
    # The final state was replaced by zeros: the decoded images are mid-grey.
    np.testing.assert_allclose(out.images, 0.5)


def test_segment_and_classify_take_callbacks_interrupt_and_report_num_timesteps(pixel_seg_pipe, pixel_cls_pipe):
    seg_calls = []

    def record(pipe, i, t, kwargs):
        seg_calls.append((i, tuple(kwargs["latents"].shape)))
        return {}

    out = pixel_seg_pipe.segment(
        _images(pixel_seg_pipe, batch=2),
        num_inference_steps=3,
        num_samples=2,
        generator=_gen(0),
        callback_on_step_end=record,
    )
    state = (4, SEG_CLASSES, PIXEL_SIZE, PIXEL_SIZE)  # the label side of 2 images x 2 samples, as `latents`
    assert seg_calls == [(i, state) for i in range(3)] and pixel_seg_pipe.num_timesteps == 3
    assert out.masks.shape == (2, PIXEL_SIZE, PIXEL_SIZE)

    # Interrupting after the first step: the model runs once, and the label reached so far is decoded.
    model_calls = _count_model_calls(pixel_cls_pipe)

    def stop(pipe, i, t, kwargs):
        pipe._interrupt = True
        return {}

    pixel_cls_pipe.classify(
        _images(pixel_cls_pipe), num_inference_steps=4, callback_on_step_end=stop, generator=_gen(0)
    )
    assert len(model_calls) == 1 and pixel_cls_pipe.num_timesteps == 4 and pixel_cls_pipe.interrupt
    # The next call starts afresh.
    model_calls.clear()
    pixel_cls_pipe.classify(_images(pixel_cls_pipe), num_inference_steps=2, generator=_gen(0))
    assert len(model_calls) == 2 and not pixel_cls_pipe.interrupt

    with pytest.raises(ValueError, match=r"\['noise'\]"):
        pixel_seg_pipe.segment(
            _images(pixel_seg_pipe), callback_on_step_end=record, callback_on_step_end_tensor_inputs=["noise"]
        )
    with pytest.raises(ValueError, match="Pass the `image`"):
        pixel_seg_pipe.segment(None)


# ----------------------------------------------------------------------------------------------------------------
# Bad input: a ValueError naming the problem, before any model runs
# ----------------------------------------------------------------------------------------------------------------


def _bad_calls():
    size = PIXEL_SIZE
    return {
        "mask colour not in palette": (
            "latent",
            lambda p: p(mask=np.full((16, 16, 3), 7, dtype=np.uint8)),
            r"256 pixel\(s\) have colours not in the palette.*\(7, 7, 7\)",
        ),
        "class id too large (mask)": (
            "pixel_seg",
            lambda p: p(mask=np.full((size, size), 3)),
            r"64 label value\(s\) outside \[0, 3\).*\[3\]",
        ),
        "class id too large (labels)": (
            "pixel_cls",
            lambda p: p(class_labels=[1, 4]),
            r"1 label value\(s\) outside \[0, 4\).*\[4\]",
        ),
        "image size not a VAE multiple": (
            "latent",
            lambda p: p.segment(torch.rand(1, 3, 15, 16)),
            r"15x16.*multiples of 2",
        ),
        "mask size not a VAE multiple": (
            "latent",
            lambda p: p(mask=np.zeros((16, 9), dtype=np.int64)),
            r"16x9.*multiples of 2",
        ),
        "pixel image of the wrong size": (
            "pixel_seg",
            lambda p: p.segment(torch.rand(1, 1, 16, 16)),
            r"16x16.*trained on 8x8",
        ),
        "pixel mask of the wrong size": ("pixel_seg", lambda p: p(mask=np.zeros((4, 4), dtype=np.int64)), r"4x4.*8x8"),
        "wrong channel count (tensor)": (
            "pixel_seg",
            lambda p: p.segment(torch.rand(1, 3, size, size)),
            r"\(1, 3, 8, 8\).*1-channel",
        ),
        "wrong channel count (array)": (
            "pixel_cls",
            lambda p: p.classify(np.zeros((size, size, 2), dtype=np.uint8)),
            r"\(8, 8, 2\).*C in \(1, 3, 4\)",
        ),
        "generator list, generation": (
            "pixel_seg",
            lambda p: p(mask=np.zeros((2, size, size), dtype=np.int64), generator=[_gen(0)] * 3),
            r"3 generators for a batch of 2",
        ),
        "generator list, num_images_per_prompt": (
            "pixel_cls",
            lambda p: p(class_labels=[0, 1], num_images_per_prompt=2, generator=[_gen(0)] * 2),
            r"2 generators for a batch of 4",
        ),
        "generator list, segmentation": (
            "latent",
            lambda p: p.segment(torch.rand(3, 3, 16, 16), num_samples=2, generator=[_gen(0)] * 2),
            r"2 generators for a batch of 3",
        ),
        "classify on a segmentation model": (
            "pixel_seg",
            lambda p: p.classify(torch.rand(1, 1, size, size)),
            r"`classify` needs a classification model.*use `segment`",
        ),
        "segment on a classification model": (
            "pixel_cls",
            lambda p: p.segment(torch.rand(1, 3, size, size)),
            r"`segment` needs a segmentation model.*use `classify`",
        ),
        "mask and class_labels": (
            "pixel_seg",
            lambda p: p(mask=np.zeros((size, size), dtype=np.int64), class_labels=[0]),
            r"either `mask`.*or `class_labels`.*not both",
        ),
        "neither mask nor class_labels": ("pixel_seg", lambda p: p(), r"Pass the labels"),
        "mask to a classification model": (
            "pixel_cls",
            lambda p: p(mask=np.zeros((size, size), dtype=np.int64)),
            r"classification model.*not from a `mask`",
        ),
        "latents of the wrong shape": (
            "pixel_seg",
            lambda p: p.segment(
                torch.rand(1, 1, size, size), num_samples=2, latents=torch.randn(1, SEG_CLASSES, size, size)
            ),
            r"\(1, 3, 8, 8\).*\(2, 3, 8, 8\)",
        ),
        "unknown output_type": (
            "pixel_seg",
            lambda p: p.segment(torch.rand(1, 1, size, size), output_type="latents"),
            r"output_type 'latents'",
        ),
        "float mask": ("pixel_seg", lambda p: p(mask=torch.full((size, size), 0.5)), r"non-integer values"),
        "image out of range": ("pixel_seg", lambda p: p.segment(torch.full((1, 1, size, size), 2.0)), r"\[2, 2\]"),
        "unknown sampling mode": (
            "pixel_seg",
            lambda p: p.segment(torch.rand(1, 1, size, size), sampling_mode="ode"),
            r"sampling_mode 'ode'",
        ),
        "zero steps": (
            "pixel_seg",
            lambda p: p.segment(torch.rand(1, 1, size, size), num_inference_steps=0),
            r"num_inference_steps.*0",
        ),
        "zero samples": (
            "pixel_seg",
            lambda p: p.segment(torch.rand(1, 1, size, size), num_samples=0),
            r"num_samples.*0",
        ),
        "NaN pixel (tensor)": (
            "pixel_seg",
            lambda p: p.segment(
                torch.rand(1, 1, size, size).index_put_((torch.tensor([0]),) * 4, torch.tensor(float("nan")))
            ),
            r"`image\[0\]` holds 1 NaN or infinite",
        ),
        "inf pixel (array)": (
            "pixel_cls",
            lambda p: p.classify(np.full((size, size, 3), np.inf, dtype=np.float32)),
            r"holds 192 NaN or infinite",
        ),
        "empty image batch": ("pixel_seg", lambda p: p.segment(np.zeros((0, size, size, 1))), r"holds no image"),
        "empty image batch (tensor)": (
            "pixel_cls",
            lambda p: p.classify(torch.zeros(0, 3, size, size)),
            r"holds no image",
        ),
        "empty mask batch": (
            "pixel_seg",
            lambda p: p(mask=np.zeros((0, size, size), dtype=np.int64)),
            r"holds no mask",
        ),
        "unknown class name": ("pixel_cls", lambda p: p(class_labels=["3"]), r"\['3'\] are not class names.*'zero'"),
        "unknown callback tensor": (
            "pixel_seg",
            lambda p: p(
                mask=np.zeros((size, size), dtype=np.int64),
                callback_on_step_end=lambda *a: {},
                callback_on_step_end_tensor_inputs=["noise"],
            ),
            r"\['noise'\]",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_calls()))
def test_bad_input_raises_before_any_model_runs(case, pixel_seg_pipe, pixel_cls_pipe, latent_seg_pipe):
    which, call, match = _bad_calls()[case]
    pipe = {"pixel_seg": pixel_seg_pipe, "pixel_cls": pixel_cls_pipe, "latent": latent_seg_pipe}[which]
    calls = _count_model_calls(pipe)
    with pytest.raises(ValueError, match=match):
        call(pipe)
    assert calls == [], f"models ran before the input was rejected: {calls}"


def test_class_names_need_a_model_with_names(tiny_pixel_unet):
    pipe = tiny_cls_pipeline(tiny_pixel_unet)
    with pytest.raises(ValueError, match=r"holds strings \(\['3'\]\).*no `class_names`.*\[0, 4\)"):
        pipe(class_labels=["3"])


def test_class_names_generate_like_their_ids(pixel_cls_pipe):
    by_name = pixel_cls_pipe(class_labels=["one", "three"], num_inference_steps=2, generator=_gen(0), output_type="np")
    by_id = pixel_cls_pipe(class_labels=[1, 3], num_inference_steps=2, generator=_gen(0), output_type="np")
    np.testing.assert_array_equal(by_name.images, by_id.images)
    single = pixel_cls_pipe(class_labels="two", num_inference_steps=2, generator=_gen(0), output_type="np")
    np.testing.assert_array_equal(
        single.images,
        pixel_cls_pipe(class_labels=2, num_inference_steps=2, generator=_gen(0), output_type="np").images,
    )


def test_float_tensor_range_rule(pixel_seg_pipe):
    """Float tensors are [0, 1]; one with a negative value is taken as [-1, 1], with diffusers' FutureWarning."""
    processor = pixel_seg_pipe.image_processor
    unit = torch.rand(1, 1, PIXEL_SIZE, PIXEL_SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_unit = processor.preprocess_images(unit, 1)
    torch.testing.assert_close(from_unit, unit * 2 - 1)
    with pytest.warns(FutureWarning, match=r"taken as already in \[-1, 1\]"):
        from_signed = processor.preprocess_images(unit * 2 - 1, 1)
    torch.testing.assert_close(from_signed, unit * 2 - 1)
    # The documented ambiguity: a [-1, 1] tensor without a negative value reads as [0, 1].
    bright = torch.full((1, 1, PIXEL_SIZE, PIXEL_SIZE), 0.5)
    torch.testing.assert_close(processor.preprocess_images(bright, 1), torch.zeros_like(bright))


def test_latent_backend_takes_palette_segmentation_only(tiny_vae, tiny_latent_unet):
    unet, vae = tiny_latent_unet(), tiny_vae()
    with pytest.raises(ValueError, match="task='segmentation' and label_encoding='palette'.*'classification'"):
        SymmFlowPipeline(
            unet=unet,
            scheduler=SymmFlowScheduler(),
            vae=vae,
            task="classification",
            label_encoding="scalar",
            num_classes=4,
        )
    with pytest.raises(ValueError, match="label_encoding='onehot'"):
        SymmFlowPipeline(unet=unet, scheduler=SymmFlowScheduler(), vae=vae, label_encoding="onehot", num_classes=4)


def test_model_channels_must_fit_the_label_code(tiny_pixel_unet):
    unet = tiny_pixel_unet(image_channels=1, label_channels=1)  # 2 input channels
    with pytest.raises(ValueError, match="2 input channels.*3 channels of the 'onehot'"):
        SymmFlowPipeline(unet=unet, scheduler=SymmFlowScheduler(), label_encoding="onehot", num_classes=3)
    # A UNet built for another number of classes: 12 channels are neither 1 + 2 nor 3 + 2.
    wide = tiny_pixel_unet(image_channels=1, label_channels=11)
    with pytest.raises(ValueError, match=r"in_channels=12.*2 classes has 2 channel\(s\).*leaves 10.*needs 3 or 5"):
        SymmFlowPipeline(unet=wide, scheduler=SymmFlowScheduler())


# ----------------------------------------------------------------------------------------------------------------
# Logits label head (the training script's default for one-hot codes)
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture
def logits_seg_pipe(tiny_pixel_unet):
    return tiny_seg_pipeline(tiny_pixel_unet, label_prediction="logits", label_input="gated")


def test_logits_head_segments_in_one_step_as_the_argmax_of_its_logits(logits_seg_pipe):
    pipe = logits_seg_pipe
    image = _images(pipe, batch=2)
    out = pipe.segment(image, num_inference_steps=1, generator=_gen(0), output_type="pt")
    # What the model says at the readout: clean image (image timestep 0), label fully noised (s = 1) and gated to 0.
    x = image * 2 - 1
    sample = torch.cat([x, torch.zeros(2, SEG_CLASSES, PIXEL_SIZE, PIXEL_SIZE)], dim=1)
    with torch.no_grad():
        logits = pipe.unet(sample, torch.zeros(2), class_labels=torch.full((2,), 1000.0)).sample[:, 1:]
    np.testing.assert_array_equal(np.asarray(out.masks), logits.argmax(dim=1).numpy())
    # The noise drawn for the label does not matter at one step: the gate hides it and the step lands on y_hat.
    other = pipe.segment(image, num_inference_steps=1, generator=_gen(7), output_type="pt")
    np.testing.assert_array_equal(np.asarray(other.masks), np.asarray(out.masks))


def test_logits_head_generates_and_round_trips(logits_seg_pipe, tmp_path):
    pipe = logits_seg_pipe
    images = pipe(mask=_masks(pipe, batch=2), num_inference_steps=3, generator=_gen(0), output_type="np").images
    assert np.isfinite(images).all()
    pipe.save_pretrained(tmp_path)
    loaded = _quiet(SymmFlowPipeline.from_pretrained(tmp_path))
    assert loaded.label_head == pipe.label_head and loaded.label_head.prediction == "logits"
    image = _images(pipe)
    torch.testing.assert_close(
        loaded.segment(image, num_inference_steps=2, generator=_gen(0)).scores,
        pipe.segment(image, num_inference_steps=2, generator=_gen(0)).scores,
    )


def test_logits_head_needs_a_one_hot_code(tiny_pixel_unet):
    unet = tiny_pixel_unet(image_channels=3, label_channels=1, sample_size=PIXEL_SIZE, label_time=False)
    with pytest.raises(ValueError, match="label_encoding='onehot'"):
        SymmFlowPipeline(
            unet=unet,
            scheduler=SymmFlowScheduler(),
            task="classification",
            label_encoding="scalar",
            num_classes=CLS_CLASSES,
            label_prediction="logits",
        )


def test_pipelines_saved_before_the_label_head_load_as_the_papers(pixel_seg_pipe, tmp_path):
    pixel_seg_pipe.save_pretrained(tmp_path)
    index = tmp_path / "model_index.json"
    config = json.loads(index.read_text())
    del config["label_prediction"], config["label_input"]
    index.write_text(json.dumps(config))
    loaded = SymmFlowPipeline.from_pretrained(tmp_path)
    assert loaded.label_head.is_paper


def test_a_pipeline_built_from_a_codec_keeps_it_and_saves_what_the_constructor_saves(tiny_pixel_unet, tmp_path):
    colours = [[0, 0, 0], [255, 0, 0], [0, 0, 255], [255, 255, 255]]  # the last for unlabelled pixels (255)
    codec = LabelCodec(
        task="segmentation",
        encoding="palette",
        num_classes=SEG_CLASSES,
        palette=colours,
        ignore_index=255,
        class_names=["bg", "a", "b"],
        beta=4.0,
    )
    unet = tiny_pixel_unet(image_channels=1, label_channels=codec.num_channels, sample_size=PIXEL_SIZE)
    pipe = SymmFlowPipeline.from_label_codec(codec, unet=unet, scheduler=SymmFlowScheduler(), background_class=0)
    assert pipe.label_codec is codec  # the data's codec itself, not a copy
    plain = SymmFlowPipeline(
        unet=unet,
        scheduler=SymmFlowScheduler(),
        task="segmentation",
        label_encoding="palette",
        num_classes=SEG_CLASSES,
        palette=codec.config.palette,
        ignore_index=255,
        class_names=["bg", "a", "b"],
        beta=4.0,
        background_class=0,
    )
    assert dict(pipe.config) == dict(plain.config)
    pipe.save_pretrained(tmp_path)
    loaded = SymmFlowPipeline.from_pretrained(tmp_path)
    assert dict(loaded.label_codec.config) == dict(codec.config) and loaded.config.background_class == 0
    with pytest.raises(TypeError, match="num_classes"):
        SymmFlowPipeline.from_label_codec(codec, unet=unet, scheduler=SymmFlowScheduler(), num_classes=5)


def test_the_model_is_prepared_once_per_call_not_per_model_call(pixel_seg_pipe, monkeypatch):
    # Whether the UNet takes a label time (and its dtype hook) is settled once per call: a 4-step call made 8 checks
    # when every model call redid them.
    import diffusers_symmflow.models.velocity as velocity

    checks = []
    original = velocity.supports_label_time
    monkeypatch.setattr(velocity, "supports_label_time", lambda model: checks.append(model) or original(model))
    image = torch.rand(2, 1, PIXEL_SIZE, PIXEL_SIZE, generator=torch.Generator().manual_seed(0))
    pixel_seg_pipe.segment(image, num_inference_steps=4, generator=torch.Generator().manual_seed(0))
    assert checks == [pixel_seg_pipe.unet]


def test_each_entry_point_checks_all_its_arguments_before_the_model_runs(pixel_seg_pipe, monkeypatch):
    def no_model_call(*args, **kwargs):
        raise AssertionError("the model ran before the arguments were checked")

    monkeypatch.setattr(pixel_seg_pipe.unet, "forward", no_model_call)
    image = torch.rand(1, 1, PIXEL_SIZE, PIXEL_SIZE)
    mask = torch.zeros(1, PIXEL_SIZE, PIXEL_SIZE, dtype=torch.long)
    wrong_latents = torch.zeros(1, 1, 2, 2)  # the shape is checked against the parsed inputs
    calls = {
        "__call__": lambda: pixel_seg_pipe(mask=mask, latents=wrong_latents),
        "segment": lambda: pixel_seg_pipe.segment(image, latents=wrong_latents),
        "classify": lambda: pixel_seg_pipe.classify(image),  # no background_class
        "invert": lambda: pixel_seg_pipe.invert(image, mask, strength=0.0),
        "edit": lambda: pixel_seg_pipe.edit(image, mask, guidance_scale=-1.0),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError):
            call()
