"""`SymmFlowPipeline.invert` and `.edit` (CPU, tiny models, no downloads).

Oracle models with a velocity known in closed form pin the arithmetic: with a velocity that does not change along the
path, inversion followed by generation is exact, and an edit moves each pixel by exactly the velocity change the new
mask causes, scaled by how far `strength` inverted. Tiny random UNets pin the plumbing (pixel and latent back-ends,
batching, generators, callbacks, outputs), and every bad input is rejected before any model runs.
"""

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from pipeline_helpers import LATENT_IMAGE_SIZE as LATENT_SIZE
from pipeline_helpers import PIXEL_SIZE as SIZE
from pipeline_helpers import SEG_CLASSES, _quiet, tiny_latent_pipeline, tiny_seg_pipeline

from diffusers_symmflow.pipelines import SymmFlowEditOutput, SymmFlowInversionOutput, SymmFlowPipeline
from diffusers_symmflow.schedulers import SymmFlowScheduler


CLASSES = SEG_CLASSES
# The oracle's image velocity per class of the clean mask: small enough that images stay inside [-1, 1].
CLASS_VELOCITY = (-0.2, 0.05, 0.2)


class MaskVelocity(ModelMixin, ConfigMixin):
    """Velocity `v_x = slope * x + CLASS_VELOCITY[class]` from the one-hot label side, `v_y = 0`.

    With `slope = 0` the velocity does not change along the path, so Euler and Heun integrate it exactly in both
    directions; with `slope != 0` inversion is only approximate (it evaluates the field at the other end of each step).
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 1 + CLASSES,
        sample_size: int = SIZE,
        slope: float = 0.0,
        class_embed_type: str | None = "timestep",
    ):
        super().__init__()
        self.register_buffer("class_velocity", torch.tensor(CLASS_VELOCITY).reshape(1, CLASSES, 1, 1))
        self.register_to_config(out_channels=in_channels)
        self.label_timesteps_seen = []

    def forward(self, sample, timestep, class_labels=None):
        x, y = sample[:, :1], sample[:, 1:]
        self.label_timesteps_seen.append(class_labels)
        one_hot = (y + 1) / 2  # the one-hot code is +-1
        v_x = self.config.slope * x + (one_hot * self.class_velocity).sum(dim=1, keepdim=True)
        return torch.cat([v_x, torch.zeros_like(y)], dim=1)


def _oracle_pipe(slope=0.0, solver="euler", shift=1.0):
    return _quiet(
        SymmFlowPipeline(
            unet=MaskVelocity(slope=slope),
            scheduler=SymmFlowScheduler(solver=solver, shift=shift),
            num_classes=CLASSES,
        )
    )


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _masks(batch=1, seed=0, size=SIZE, classes=CLASSES):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, classes, (batch, size, size)))


def _images(batch=1, seed=0, channels=1, size=SIZE):
    """Images `[B, C, H, W]` in [0.25, 0.75] (in [-0.5, 0.5] in model space, so oracle results stay unclamped)."""
    return 0.25 + 0.5 * torch.rand(batch, channels, size, size, generator=_gen(seed))


def _velocity(mask):
    return torch.tensor(CLASS_VELOCITY)[mask].unsqueeze(1)  # [B, 1, H, W]


def _psnr(a, b):
    """PSNR in dB of images in [0, 1]."""
    return float(10 * torch.log10(1.0 / ((a - b) ** 2).mean()))


@pytest.fixture
def seg_pipe(request, tiny_pixel_unet, tiny_vae, tiny_latent_unet):
    if request.param == "pixel":
        return tiny_seg_pipeline(tiny_pixel_unet, default_generation_steps=3)
    return tiny_latent_pipeline(
        tiny_vae, tiny_latent_unet, num_classes=CLASSES, default_generation_steps=3, default_prediction_steps=2
    )


def _size(pipe):
    return LATENT_SIZE if pipe.vae is not None else SIZE


def _pipe_inputs(pipe, batch=1, seed=0):
    size = _size(pipe)
    return _images(batch, seed, pipe.num_pixel_channels, size), _masks(batch, seed, size)


# ----------------------------------------------------------------------------------------------------------------
# Oracle: the arithmetic
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("steps", [1, 5])
def test_oracle_invert_then_generate_reconstructs_exactly(solver, steps):
    pipe = _oracle_pipe(solver=solver, shift=3.0)
    image, mask = _images(batch=2), _masks(batch=2)
    inverted = pipe.invert(image, mask, num_inference_steps=steps)
    assert isinstance(inverted, SymmFlowInversionOutput) and inverted.noise_level == 1.0
    torch.testing.assert_close(inverted.source_masks, mask)
    # The noise that generates the image: x - v(mask), since generation adds the whole velocity over t: 0 -> 1.
    torch.testing.assert_close(inverted.latents, image * 2 - 1 - _velocity(mask), atol=1e-6, rtol=0)
    # The mask side was held clean (label noise level 0) at every call.
    assert all(torch.all(t == 0) for t in pipe.unet.label_timesteps_seen)
    regenerated = pipe(mask=mask, latents=inverted.latents, num_inference_steps=steps, output_type="pt").images
    torch.testing.assert_close(regenerated, image, atol=1e-6, rtol=0)


@pytest.mark.parametrize("strength,expected_steps", [(1.0, 4), (0.5, 2), (0.3, 2), (0.01, 1)])
def test_oracle_edit_moves_pixels_by_the_velocity_change_times_strength(strength, expected_steps):
    pipe = _oracle_pipe()
    image, source, new = _images(), _masks(seed=1), _masks(seed=2)
    calls = []
    out = pipe.edit(
        image,
        new,
        source_mask=source,
        strength=strength,
        num_inference_steps=4,
        output_type="pt",
        callback_on_step_end=lambda p, i, t, kw: calls.append(i) or {},
    )
    assert isinstance(out, SymmFlowEditOutput)
    # Inverted to noise level ceil(4 * strength) / 4 under the old mask, brought back under the new one.
    noise_level = expected_steps / 4
    expected = image + noise_level * (_velocity(new) - _velocity(source)) / 2
    torch.testing.assert_close(out.images, expected, atol=1e-6, rtol=0)
    assert calls == list(range(2 * expected_steps))
    assert pipe.invert(image, source, strength=strength, num_inference_steps=4).noise_level == noise_level


def test_oracle_inversion_converges_with_steps_on_a_curved_field():
    """A field that changes along the path is inverted approximately; more steps reconstruct better."""
    pipe = _oracle_pipe(slope=-0.8)
    image, mask = _images(), _masks()
    psnrs = []
    for steps in (2, 8, 32):
        latents = pipe.invert(image, mask, num_inference_steps=steps).latents
        psnrs.append(
            _psnr(pipe(mask=mask, latents=latents, num_inference_steps=steps, output_type="pt").images, image)
        )
    assert psnrs[0] < psnrs[1] < psnrs[2]
    assert psnrs[0] > 22 and psnrs[2] > 45, psnrs  # measured: 25.8, 37.4 and 49.2 dB


# ----------------------------------------------------------------------------------------------------------------
# Tiny UNets: the plumbing, pixel and latent
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seg_pipe", ["pixel", "latent"], indirect=True)
def test_edit_with_the_source_mask_is_the_reconstruction(seg_pipe):
    pipe = seg_pipe
    image, mask = _pipe_inputs(pipe, batch=2)
    latents = pipe.invert(image, mask).latents
    reconstruction = pipe(mask=mask, latents=latents, output_type="pt").images
    edited = pipe.edit(image, mask, source_mask=mask, output_type="pt")
    torch.testing.assert_close(edited.images, reconstruction, atol=1e-5, rtol=0)
    torch.testing.assert_close(edited.source_masks, mask)


@pytest.mark.parametrize("seg_pipe", ["pixel", "latent"], indirect=True)
def test_omitted_source_mask_is_segmented(seg_pipe):
    pipe = seg_pipe
    image, new = _pipe_inputs(pipe, batch=2)
    predicted = pipe.segment(image, generator=_gen(3), output_type="pt").masks
    auto = pipe.edit(image, new, generator=_gen(3), output_type="pt")
    given = pipe.edit(image, new, source_mask=predicted, output_type="pt")
    torch.testing.assert_close(auto.source_masks, predicted)
    torch.testing.assert_close(auto.images, given.images)
    inverted = pipe.invert(image, generator=_gen(3))
    torch.testing.assert_close(inverted.source_masks, predicted)


@pytest.mark.parametrize("seg_pipe", ["pixel", "latent"], indirect=True)
@pytest.mark.parametrize("output_type", ["pil", "np", "pt"])
def test_edit_output_types(seg_pipe, output_type):
    pipe, size, channels = seg_pipe, _size(seg_pipe), seg_pipe.num_pixel_channels
    image, mask = _pipe_inputs(pipe, batch=2)
    images, source_masks = pipe.edit(
        image, mask, source_mask=mask, strength=0.5, num_inference_steps=2, output_type=output_type, return_dict=False
    )
    assert source_masks.shape == (2, size, size)
    if output_type == "pil":
        assert len(images) == 2 and all(isinstance(im, PIL.Image.Image) and im.size == (size, size) for im in images)
    elif output_type == "np":
        assert images.shape == (2, size, size, channels) and images.min() >= 0 and images.max() <= 1
    else:
        assert images.shape == (2, channels, size, size) and images.min() >= 0 and images.max() <= 1
    latents, noise_level, _ = pipe.invert(image, mask, strength=0.5, num_inference_steps=2, return_dict=False)
    assert noise_level == 0.5
    assert latents.shape == (2, pipe.num_image_channels, size // pipe.vae_scale_factor, size // pipe.vae_scale_factor)


@pytest.mark.parametrize("seg_pipe", ["pixel"], indirect=True)
def test_edit_batch_equals_single_calls(seg_pipe):
    pipe = seg_pipe
    image, new = _pipe_inputs(pipe, batch=2)
    batch = pipe.edit(image, new, generator=[_gen(0), _gen(1)], output_type="pt")
    for i in range(2):
        single = pipe.edit(image[i : i + 1], new[i : i + 1], generator=_gen(i), output_type="pt")
        torch.testing.assert_close(batch.images[i : i + 1], single.images, atol=1e-5, rtol=0)
        torch.testing.assert_close(batch.source_masks[i : i + 1], single.source_masks)


@pytest.mark.parametrize("seg_pipe", ["pixel"], indirect=True)
def test_edit_callback_replaces_the_final_state(seg_pipe):
    pipe = seg_pipe
    image, mask = _pipe_inputs(pipe)
    seen = []

    def callback(p, i, t, kwargs):
        seen.append((i, p.scheduler.invert))
        return {"latents": torch.zeros_like(kwargs["latents"])} if i == 5 else {}

    out = pipe.edit(
        image, mask, source_mask=mask, num_inference_steps=3, output_type="np", callback_on_step_end=callback
    )
    assert seen == [(0, True), (1, True), (2, True), (3, False), (4, False), (5, False)]
    np.testing.assert_allclose(out.images, 0.5)  # the final state was replaced by zeros: mid-grey


# ----------------------------------------------------------------------------------------------------------------
# Bad input: a ValueError before any model runs
# ----------------------------------------------------------------------------------------------------------------


def _count_unet_calls(pipe):
    calls = []
    for module in [pipe.unet] + ([pipe.vae] if pipe.vae is not None else []):
        module.register_forward_pre_hook(lambda *a: calls.append(1))
    return calls


def _no_label_time_pipe():
    return _quiet(
        SymmFlowPipeline(unet=MaskVelocity(class_embed_type=None), scheduler=SymmFlowScheduler(), num_classes=CLASSES)
    )


BAD_CALLS = {
    "mask size": (lambda p: p.edit(_images(), _masks(size=4)), r"`mask` is 4x4.*image is 8x8"),
    "source mask size": (lambda p: p.edit(_images(), _masks(), source_mask=_masks(size=4)), r"`source_mask` is 4x4"),
    "mask count": (lambda p: p.edit(_images(batch=2), _masks(batch=3)), r"3 `mask`\(s\) for 2 image"),
    "invert mask size": (lambda p: p.invert(_images(), _masks(size=4)), r"`mask` is 4x4"),
    "strength 0": (lambda p: p.edit(_images(), _masks(), strength=0.0), r"strength.*\(0, 1\].*0\.0"),
    "strength above 1": (lambda p: p.invert(_images(), _masks(), strength=1.5), r"strength.*1\.5"),
    "strength bool": (lambda p: p.edit(_images(), _masks(), strength=True), r"strength.*True"),
    "no mask to edit to": (lambda p: p.edit(_images(), None), r"Pass the edited `mask`"),
    "output type": (lambda p: p.edit(_images(), _masks(), output_type="latents"), r"output_type 'latents'"),
    "steps": (lambda p: p.invert(_images(), _masks(), num_inference_steps=0), r"num_inference_steps.*0"),
    "generators": (lambda p: p.edit(_images(batch=2), _masks(batch=2), generator=[_gen(0)]), r"1 generators"),
    "image size": (lambda p: p.edit(_images(size=16), _masks(size=16)), r"16x16.*trained on 8x8"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_raises_before_any_model_runs(case):
    pipe = _oracle_pipe()
    calls = _count_unet_calls(pipe)
    call, match = BAD_CALLS[case]
    with pytest.raises(ValueError, match=match):
        call(pipe)
    assert calls == []


@pytest.mark.parametrize("method", ["invert", "edit"])
def test_a_model_without_label_time_is_refused(method):
    pipe = _no_label_time_pipe()
    calls = _count_unet_calls(pipe)
    with pytest.raises(ValueError, match="without a label time input.*--label_time mixed"):
        if method == "invert":
            pipe.invert(_images(), _masks())
        else:
            pipe.edit(_images(), _masks())  # no source mask: segment would run first if the check came late
    assert calls == []


def test_a_classification_model_is_refused(tiny_pixel_unet):
    unet = tiny_pixel_unet(image_channels=1, label_channels=1, sample_size=SIZE, label_time=True)
    pipe = _quiet(
        SymmFlowPipeline(
            unet=unet, scheduler=SymmFlowScheduler(), task="classification", label_encoding="scalar", num_classes=4
        )
    )
    calls = _count_unet_calls(pipe)
    with pytest.raises(ValueError, match="segmentation models.*classification"):
        pipe.edit(_images(), np.zeros((SIZE, SIZE), dtype=np.int64))
    assert calls == []
