"""Classifier-free guidance from the label's own noise level: `guidance_scale` on `SymmFlowPipeline.__call__` / `edit`.

A model with a label time gives the unconditional velocity with its label at full noise (label time 1), so
`v_x = v_x_uncond + w (v_x_cond - v_x_uncond)` needs no label dropout. These tests pin the arithmetic against hand
computations from separate model calls, the batching (one forward of 2B, batch = single calls), the generator's
role, callbacks, the refusals, and (with an oracle velocity) what guidance does to an edit.
"""

import math

import numpy as np
import pytest
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.utils.torch_utils import randn_tensor
from pipeline_helpers import (
    LATENT_IMAGE_SIZE,
    SEG_CLASSES,
    _quiet,
    tiny_cls_pipeline,
    tiny_latent_pipeline,
    tiny_seg_pipeline,
)
from pipeline_helpers import PIXEL_SIZE as SIZE

from diffusers_symmflow.models import predict_velocity
from diffusers_symmflow.pipelines import SymmFlowPipeline
from diffusers_symmflow.schedulers import SymmFlowScheduler


CLASSES = SEG_CLASSES


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _seg_pipe(tiny_pixel_unet, label_time=True, label_prediction="velocity", label_input="raw", solver="euler"):
    return tiny_seg_pipeline(
        tiny_pixel_unet,
        label_time=label_time,
        scheduler=SymmFlowScheduler(solver=solver),
        label_prediction=label_prediction,
        label_input=label_input,
    )


def _cls_pipe(tiny_pixel_unet):
    return tiny_cls_pipeline(tiny_pixel_unet, label_time=True)


def _latent_pipe(tiny_vae, tiny_latent_unet):
    return tiny_latent_pipeline(tiny_vae, tiny_latent_unet)


def _masks(batch=1, seed=0, size=SIZE, classes=CLASSES) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, classes, (batch, size, size)))


def _images(batch=1, seed=0, channels=1, size=SIZE) -> torch.Tensor:
    return 0.25 + 0.5 * torch.rand(batch, channels, size, size, generator=_gen(seed))


def _record_batch_sizes(pipe) -> list[int]:
    """The batch size of every UNet forward."""
    sizes = []
    pipe.unet.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
    return sizes


# ----------------------------------------------------------------------------------------------------------------
# Scale 1 is no guidance
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["pixel", "latent", "classification"])
def test_scale_one_is_the_unguided_loop_bit_for_bit(backend, tiny_pixel_unet, tiny_vae, tiny_latent_unet):
    if backend == "pixel":
        pipe, labels = _seg_pipe(tiny_pixel_unet), {"mask": _masks(batch=2)}
    elif backend == "latent":
        pipe, labels = _latent_pipe(tiny_vae, tiny_latent_unet), {"mask": _masks(2, size=LATENT_IMAGE_SIZE, classes=4)}
    else:
        pipe, labels = _cls_pipe(tiny_pixel_unet), {"class_labels": [0, 3]}
    sizes = _record_batch_sizes(pipe)
    plain = pipe(**labels, num_inference_steps=3, generator=_gen(0), output_type="pt").images
    assert sizes == [2, 2, 2] and pipe.guidance_scale == 1.0 and not pipe.do_classifier_free_guidance
    sizes.clear()
    at_one = pipe(**labels, num_inference_steps=3, generator=_gen(0), output_type="pt", guidance_scale=1.0).images
    assert sizes == [2, 2, 2]  # no unconditional half
    assert torch.equal(plain, at_one)
    guided = pipe(**labels, num_inference_steps=3, generator=_gen(0), output_type="pt", guidance_scale=3.0).images
    assert not torch.allclose(plain, guided, atol=1e-3)


def test_scale_one_works_without_a_label_time(tiny_pixel_unet):
    pipe = _seg_pipe(tiny_pixel_unet, label_time=False)
    plain = pipe(mask=_masks(), num_inference_steps=2, generator=_gen(0), output_type="pt").images
    at_one = pipe(mask=_masks(), num_inference_steps=2, generator=_gen(0), output_type="pt", guidance_scale=1).images
    assert torch.equal(plain, at_one)


# ----------------------------------------------------------------------------------------------------------------
# The formula, by hand
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label_prediction, label_input, mode",
    [
        ("velocity", "raw", "conditional"),
        ("velocity", "raw", "joint"),
        ("logits", "gated", "conditional"),
        ("logits", "raw", "joint"),
    ],
)
def test_a_guided_step_is_the_formula_from_two_model_calls(tiny_pixel_unet, label_prediction, label_input, mode):
    pipe = _seg_pipe(tiny_pixel_unet, label_prediction=label_prediction, label_input=label_input)
    scale, batch = 2.5, 2
    masks = _masks(batch=batch)
    noise = torch.randn(batch, 1, SIZE, SIZE, generator=_gen(1))
    seen = []
    pipe(
        mask=masks,
        latents=noise,
        num_inference_steps=2,
        generator=_gen(7),
        sampling_mode=mode,
        output_type="pt",
        guidance_scale=scale,
        callback_on_step_end_tensor_inputs=["image_latents", "label_latents"],
        callback_on_step_end=lambda p, i, t, kw: (
            seen.append(torch.cat([kw["image_latents"], kw["label_latents"]], 1)) or kw
        ),
    )

    # With `latents` given, the generator's first draw is the unconditional label noise.
    code = pipe.encode_labels(masks, (SIZE, SIZE))
    xi = randn_tensor(code.shape, generator=_gen(7))
    scheduler = SymmFlowScheduler()
    scheduler.set_timesteps(2, direction="forward", mode=mode)
    sample = torch.cat([noise, code], dim=1)
    with torch.no_grad():
        for i, t in enumerate(scheduler.timesteps):
            s = scheduler.label_timesteps[i]
            v_cond = predict_velocity(pipe.unet, sample, t, s, label_head=pipe.label_head)
            v_uncond = predict_velocity(
                pipe.unet, torch.cat([sample[:, :1], xi], dim=1), t, 1000.0, label_head=pipe.label_head
            )
            velocity = torch.cat([v_uncond[:, :1] + scale * (v_cond[:, :1] - v_uncond[:, :1]), v_cond[:, 1:]], dim=1)
            sample = scheduler.step(velocity, t, sample, 1).prev_sample
            torch.testing.assert_close(seen[i], sample, atol=1e-5, rtol=1e-5)
    if mode == "conditional":
        assert torch.equal(seen[-1][:, 1:], code)  # the label stays clean
    else:
        assert not torch.allclose(seen[-1][:, 1:], code)  # the label moves along the given label's own velocity


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_guidance_runs_the_model_once_per_call_on_2b_rows(tiny_pixel_unet, solver):
    pipe = _seg_pipe(tiny_pixel_unet, solver=solver)
    sizes = _record_batch_sizes(pipe)
    pipe(mask=_masks(batch=3), num_inference_steps=2, generator=_gen(0), guidance_scale=2.0, output_type="np")
    assert sizes == [6] * (2 * pipe.scheduler.order)


@pytest.mark.parametrize("task", ["segmentation", "classification"])
def test_scale_zero_samples_the_unconditional_model(tiny_pixel_unet, task):
    """At w = 0 the velocity is the label-at-full-noise one: the given label no longer matters (conditional mode)."""
    pipe = _seg_pipe(tiny_pixel_unet) if task == "segmentation" else _cls_pipe(tiny_pixel_unet)
    first, second = (
        ({"mask": _masks(seed=0)}, {"mask": _masks(seed=1)})
        if task == "segmentation"
        else ({"class_labels": [0]}, {"class_labels": [3]})
    )
    kwargs = {"num_inference_steps": 3, "output_type": "pt"}
    a = pipe(**first, generator=_gen(0), guidance_scale=0.0, **kwargs).images
    b = pipe(**second, generator=_gen(0), guidance_scale=0.0, **kwargs).images
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    conditional = pipe(**first, generator=_gen(0), **kwargs).images
    assert not torch.allclose(a, conditional, atol=1e-3)


# ----------------------------------------------------------------------------------------------------------------
# Batching, generators, outputs
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["pixel", "latent"])
def test_a_guided_batch_equals_single_calls(backend, tiny_pixel_unet, tiny_vae, tiny_latent_unet):
    if backend == "pixel":
        pipe, masks = _seg_pipe(tiny_pixel_unet), _masks(batch=2)
    else:
        pipe, masks = _latent_pipe(tiny_vae, tiny_latent_unet), _masks(2, size=LATENT_IMAGE_SIZE, classes=4)
    kwargs = {"num_inference_steps": 2, "guidance_scale": 2.0, "output_type": "pt"}
    batch = pipe(mask=masks, generator=[_gen(3), _gen(4)], **kwargs).images
    singles = [pipe(mask=masks[i : i + 1], generator=_gen(3 + i), **kwargs).images for i in range(2)]
    torch.testing.assert_close(batch, torch.cat(singles), atol=1e-5, rtol=1e-5)


def test_the_generator_draws_the_unconditional_label(tiny_pixel_unet):
    pipe = _seg_pipe(tiny_pixel_unet)
    noise = torch.randn(1, 1, SIZE, SIZE, generator=_gen(1))
    kwargs = {"mask": _masks(), "latents": noise, "num_inference_steps": 2, "guidance_scale": 2.0, "output_type": "pt"}
    a, again = (pipe(generator=_gen(5), **kwargs).images for _ in range(2))
    other = pipe(generator=_gen(6), **kwargs).images
    assert torch.equal(a, again)
    assert not torch.allclose(a, other)  # same image noise, another draw of the label noise


@pytest.mark.parametrize("output_type, expected", [("np", (2, SIZE, SIZE, 1)), ("pt", (2, 1, SIZE, SIZE))])
def test_guided_output_types(tiny_pixel_unet, output_type, expected):
    pipe = _seg_pipe(tiny_pixel_unet)
    images = pipe(mask=_masks(batch=2), num_inference_steps=2, guidance_scale=2.0, output_type=output_type).images
    assert tuple(images.shape) == expected and 0 <= images.min() and images.max() <= 1
    pil = pipe(mask=_masks(batch=2), num_inference_steps=2, guidance_scale=2.0).images
    assert len(pil) == 2 and pil[0].size == (SIZE, SIZE)


# ----------------------------------------------------------------------------------------------------------------
# Callbacks
# ----------------------------------------------------------------------------------------------------------------


def test_callbacks_see_the_guided_state(tiny_pixel_unet):
    pipe = _seg_pipe(tiny_pixel_unet)
    seen = []

    def callback(p, i, t, kwargs):
        seen.append(
            (
                p.guidance_scale,
                p.do_classifier_free_guidance,
                kwargs["latents"].clone(),
                kwargs["pred_original_sample"].clone(),
            )
        )
        return kwargs

    images = pipe(
        mask=_masks(batch=2),
        num_inference_steps=3,
        generator=_gen(0),
        guidance_scale=2.0,
        output_type="pt",
        callback_on_step_end=callback,
        callback_on_step_end_tensor_inputs=["latents", "pred_original_sample"],
    ).images
    assert [(scale, on) for scale, on, _, _ in seen] == [(2.0, True)] * 3
    # The state is the B rows of the guided ODE, not the 2B of the model's batch; the output is its last image side
    # (`latents` is the image side, as the `latents` argument).
    assert all(latents.shape == (2, 1, SIZE, SIZE) for _, _, latents, _ in seen)
    torch.testing.assert_close(images, (seen[-1][2][:, :1].clamp(-1, 1) + 1) / 2)
    # The last step lands on the clean image, where the one-jump estimate taken before it points.
    torch.testing.assert_close(seen[-1][3][:, :1], seen[-1][2][:, :1], atol=1e-5, rtol=1e-5)


def test_a_callback_can_cut_guidance_off(tiny_pixel_unet):
    """diffusers' guidance cut-off idiom: a callback sets `pipe._guidance_scale`; 1 turns guidance off here."""
    pipe = _seg_pipe(tiny_pixel_unet)
    sizes = _record_batch_sizes(pipe)

    def cut_off(p, i, t, kwargs):
        if i == 0:
            p._guidance_scale = 1.0
        return kwargs

    pipe(mask=_masks(batch=2), num_inference_steps=3, guidance_scale=2.0, callback_on_step_end=cut_off)
    assert sizes == [4, 2, 2]


def test_a_callbacks_latents_replace_the_guided_state(tiny_pixel_unet):
    pipe = _seg_pipe(tiny_pixel_unet)

    def zero_image(p, i, t, kwargs):
        latents = kwargs["latents"].clone()
        latents[:, :1] = 0.0
        return {"latents": latents}

    images = pipe(
        mask=_masks(), num_inference_steps=2, guidance_scale=2.0, output_type="pt", callback_on_step_end=zero_image
    ).images
    torch.testing.assert_close(images, torch.full_like(images, 0.5))


# ----------------------------------------------------------------------------------------------------------------
# Refusals (before any model runs)
# ----------------------------------------------------------------------------------------------------------------


def test_a_model_without_a_label_time_refuses_guidance(tiny_pixel_unet):
    pipe = _seg_pipe(tiny_pixel_unet, label_time=False)
    sizes = _record_batch_sizes(pipe)
    with pytest.raises(
        ValueError,
        match=r"guidance_scale=2\.0.*no label time input \(config\.class_embed_type=None\)"
        r".*guidance_scale=1.*class_embed_type='timestep'.*label_time='mixed'",
    ):
        pipe(mask=_masks(), guidance_scale=2.0)
    assert sizes == []


@pytest.mark.parametrize("value", [-0.5, math.nan, math.inf, True, "2", None])
def test_bad_scales_are_refused(tiny_pixel_unet, value):
    pipe = _seg_pipe(tiny_pixel_unet)
    sizes = _record_batch_sizes(pipe)
    with pytest.raises(ValueError, match=r"`guidance_scale` must be a finite number >= 0"):
        pipe(mask=_masks(), guidance_scale=value)
    with pytest.raises(ValueError, match=r"`guidance_scale` must be a finite number >= 0"):
        pipe.edit(_images(), _masks(), guidance_scale=value)  # no source mask: segment would run first if checked late
    assert sizes == []


def test_the_training_scripts_default_model_cannot_edit_and_says_what_to_train(train, tiny_pixel_unet):
    """The README's model (`examples/train_symmflow.py` with its defaults) has no label time: `edit`, `invert` and
    guidance name the UNet and objective that have one."""
    args = train.parse_args([])
    train.check_args(args)
    objective = train.make_objective(args)
    assert objective.config.label_time == "diagonal" and not objective.needs_label_time
    pipe = _seg_pipe(tiny_pixel_unet, label_time=objective.needs_label_time)
    what_to_train = r"symmflow_unet2d_config\(\.\.\., label_time=True\).*SymmFlowObjective\(label_time='mixed'\)"
    for call in (
        lambda: pipe.edit(_images(), _masks()),
        lambda: pipe.invert(_images(), _masks()),
        lambda: pipe(mask=_masks(), guidance_scale=2.0),
    ):
        with pytest.raises(ValueError, match=what_to_train):
            call()


# ----------------------------------------------------------------------------------------------------------------
# Edit
# ----------------------------------------------------------------------------------------------------------------


CLASS_VELOCITY = (-0.2, 0.05, 0.2)


class MaskVelocity(ModelMixin, ConfigMixin):
    """Oracle: `v_x = sum_k one_hot_k CLASS_VELOCITY[k]` read from the label side as it is (any label state), `v_y = 0`.

    It does not change along the path, so Euler integrates it exactly both ways; at full label noise the one-hot
    reading of the noise gives some other velocity, fixed by the noise draw: the unconditional one.
    """

    @register_to_config
    def __init__(self, in_channels: int = 1 + CLASSES, sample_size: int = SIZE, class_embed_type: str = "timestep"):
        super().__init__()
        self.register_buffer("class_velocity", torch.tensor(CLASS_VELOCITY).reshape(1, CLASSES, 1, 1))
        self.register_to_config(out_channels=in_channels)

    def forward(self, sample, timestep, class_labels=None):
        y = sample[:, 1:]
        v_x = ((y + 1) / 2 * self.class_velocity).sum(dim=1, keepdim=True)
        return torch.cat([v_x, torch.zeros_like(y)], dim=1)


def test_a_guided_edit_moves_the_image_by_w_times_the_velocity_change():
    """Inversion and regeneration integrate one guided field with one unconditional draw, so the unconditional parts
    cancel: the edit is `x + w (v_new - v_source)`, and the source mask still reconstructs the image."""
    pipe = _quiet(SymmFlowPipeline(unet=MaskVelocity(), scheduler=SymmFlowScheduler(), num_classes=CLASSES))
    images, source, new = _images(batch=2), _masks(batch=2, seed=0), _masks(batch=2, seed=1)
    scale = 2.0
    final = {}

    def keep_last(p, i, t, kwargs):
        final["latents"] = kwargs["latents"]
        return kwargs

    velocity = torch.tensor(CLASS_VELOCITY)
    expected = 2 * images - 1 + scale * (velocity[new] - velocity[source]).unsqueeze(1)
    pipe.edit(
        images,
        new,
        source_mask=source,
        num_inference_steps=4,
        generator=_gen(0),
        output_type="pt",
        guidance_scale=scale,
        callback_on_step_end=keep_last,
    )
    torch.testing.assert_close(final["latents"][:, :1], expected, atol=1e-5, rtol=1e-5)
    same = pipe.edit(
        images,
        source,
        source_mask=source,
        num_inference_steps=4,
        generator=_gen(0),
        output_type="pt",
        guidance_scale=scale,
    ).images
    torch.testing.assert_close(same, images, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", ["pixel", "latent"])
def test_a_guided_edit_runs_and_differs_from_the_unguided_one(backend, tiny_pixel_unet, tiny_vae, tiny_latent_unet):
    if backend == "pixel":
        pipe, size, classes = _seg_pipe(tiny_pixel_unet), SIZE, CLASSES
        channels = 1
    else:
        pipe, size, classes = _latent_pipe(tiny_vae, tiny_latent_unet), LATENT_IMAGE_SIZE, 4
        channels = 3
    images = _images(batch=2, channels=channels, size=size)
    kwargs = {
        "source_mask": _masks(2, seed=0, size=size, classes=classes),
        "num_inference_steps": 2,
        "output_type": "pt",
    }
    new = _masks(2, seed=1, size=size, classes=classes)
    sizes = _record_batch_sizes(pipe)
    plain = pipe.edit(images, new, generator=_gen(0), **kwargs).images
    assert sizes == [2] * 4
    sizes.clear()
    guided = pipe.edit(images, new, generator=_gen(0), guidance_scale=3.0, **kwargs).images
    assert sizes == [4] * 4 and pipe.guidance_scale == 3.0
    assert guided.shape == plain.shape and not torch.allclose(guided, plain, atol=1e-3)
    again = pipe.edit(images, new, generator=_gen(0), guidance_scale=3.0, **kwargs).images
    assert torch.equal(guided, again)


def test_a_guided_inversion_is_regenerated_by_guided_generation_with_the_same_draw():
    """`invert(guidance_scale=w)` walks back the field `pipe(..., guidance_scale=w)` integrates, with the
    unconditional label drawn as `__call__` draws it from `latents`: a generator in the same state regenerates the
    image exactly (the oracle's field is straight); another draw, or no guidance, does not."""
    pipe = _quiet(SymmFlowPipeline(unet=MaskVelocity(), scheduler=SymmFlowScheduler(), num_classes=CLASSES))
    images, masks = _images(batch=2), _masks(batch=2, seed=0)
    scale = 2.0
    guided = pipe.invert(images, masks, num_inference_steps=4, generator=_gen(0), guidance_scale=scale).latents
    unguided = pipe.invert(images, masks, num_inference_steps=4).latents
    assert (guided - unguided).abs().max() > 0.05

    def regenerate(latents, seed):
        return pipe(
            mask=masks,
            latents=latents,
            num_inference_steps=4,
            generator=_gen(seed),
            guidance_scale=scale,
            output_type="latent",
        ).images

    torch.testing.assert_close(regenerate(guided, 0), 2 * images - 1, atol=1e-5, rtol=1e-5)
    assert (regenerate(guided, 1) - (2 * images - 1)).abs().max() > 0.05
    assert (regenerate(unguided, 0) - (2 * images - 1)).abs().max() > 0.05


def test_invert_checks_its_guidance_scale_before_any_model_runs(tiny_pixel_unet):
    pipe = _seg_pipe(tiny_pixel_unet)
    sizes = _record_batch_sizes(pipe)
    with pytest.raises(ValueError, match="`guidance_scale` must be a finite number >= 0"):
        pipe.invert(_images(), _masks(), guidance_scale=-1.0)
    assert sizes == []


def test_a_callback_cannot_switch_guidance_on_mid_call(tiny_pixel_unet):
    """Guidance needs the unconditional label noise drawn at the start; a callback may switch it off, and switching
    it on says so instead of failing inside the model call."""
    pipe = _seg_pipe(tiny_pixel_unet)

    def switch_on(p, i, t, kwargs):
        p._guidance_scale = 3.0
        return kwargs

    with pytest.raises(ValueError, match=r"before model call 1.*started without guidance"):
        pipe(mask=_masks(), num_inference_steps=3, generator=_gen(0), callback_on_step_end=switch_on)

    def switch_off(p, i, t, kwargs):
        p._guidance_scale = 1.0
        return kwargs

    cut = pipe(
        mask=_masks(), num_inference_steps=3, generator=_gen(0), guidance_scale=3.0, callback_on_step_end=switch_off
    )
    assert cut.images[0].size == (SIZE, SIZE)
