"""`segment` and `classify` (pipelines/symmflow/pipeline_symmflow_prediction.py): the majority vote over label-noise
samples and its uncertainty, oracle velocity fields that prove the labels come back exactly, and classifying with a
segmentation model by its largest object. Output types and input checks of both are in test_pipeline_symmflow.py.
"""

import math

import numpy as np
import pytest
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from pipeline_helpers import PIXEL_SIZE, SEG_CLASSES, _gen, _images, _quiet, _size

import diffusers_symmflow  # noqa: F401  (the pipeline loader needs the component classes imported)
from diffusers_symmflow.labels import LabelCodec
from diffusers_symmflow.pipelines import (
    SymmFlowPipeline,
)
from diffusers_symmflow.schedulers import SymmFlowScheduler


# ----------------------------------------------------------------------------------------------------------------
# Majority vote and uncertainty
# ----------------------------------------------------------------------------------------------------------------


def test_vote_of_identical_samples_is_the_single_mask(seg_pipe):
    pipe, k = seg_pipe, 4
    image = _images(pipe)
    size = _size(pipe) // pipe.vae_scale_factor
    noise = torch.randn(1, pipe.num_label_channels, size, size, generator=_gen(0))
    single = pipe.segment(image, latents=noise)
    voted = pipe.segment(image, latents=noise.repeat(k, 1, 1, 1), num_samples=k)
    np.testing.assert_array_equal(voted.masks, single.masks)
    np.testing.assert_array_equal(voted.uncertainty, np.zeros_like(voted.uncertainty))
    np.testing.assert_array_equal(voted.scores, np.eye(pipe.config.num_classes)[single.masks].transpose(0, 3, 1, 2))


def test_vote_and_uncertainty_match_the_individual_samples(seg_pipe):
    pipe, k = seg_pipe, 5
    image = _images(pipe)
    size = _size(pipe) // pipe.vae_scale_factor
    noise = torch.randn(k, pipe.num_label_channels, size, size, generator=_gen(0))
    voted = pipe.segment(image, latents=noise, num_samples=k)
    samples = np.concatenate([pipe.segment(image, latents=noise[j : j + 1]).masks for j in range(k)])
    counts = np.stack([(samples == c).sum(axis=0) for c in range(pipe.config.num_classes)])  # [K, H, W]
    np.testing.assert_array_equal(voted.masks[0], counts.argmax(axis=0))
    np.testing.assert_allclose(voted.scores[0], counts / k, atol=1e-6)
    unanimous = counts.max(axis=0) == k
    assert not unanimous.all(), "random weights should make some samples disagree"
    assert np.all(voted.uncertainty[0][unanimous] == 0)
    assert np.all(voted.uncertainty[0][~unanimous] > 0)
    assert voted.uncertainty.max() <= math.log(min(k, pipe.config.num_classes)) + 1e-6


def test_classify_averages_the_sample_scores(pixel_cls_pipe):
    pipe, k = pixel_cls_pipe, 3
    image = _images(pipe)
    noise = torch.randn(k, 1, PIXEL_SIZE, PIXEL_SIZE, generator=_gen(0))
    averaged = pipe.classify(image, latents=noise, num_samples=k)
    scores = torch.cat([pipe.classify(image, latents=noise[j : j + 1]).scores for j in range(k)])
    torch.testing.assert_close(averaged.scores[0], scores.mean(dim=0))
    assert averaged.labels[0] == scores.mean(dim=0).argmax()


# ----------------------------------------------------------------------------------------------------------------
# Oracle: an exact velocity field proves the plumbing independent of training
# ----------------------------------------------------------------------------------------------------------------


class OracleVelocity(ModelMixin, ConfigMixin):
    """Returns the exact straight-line SymmFlow velocity toward a fixed clean pair `(image_target, label_target)`.

    On the path `x = (1 - s_x) x* + s_x xi_x`, `y = (1 - s_y) y* + s_y xi_y` (sigma_min = 0) the velocities are
    `v_x = x* - xi_x = (x* - x) / s_x` and `v_y = xi_y - y* = (y - y*) / s_y`; a side at noise level 0 gets 0 (the
    scheduler never moves it by a finite amount there). Without a label time the label's noise level is the paper's
    `1 - s_x`.
    """

    @register_to_config
    def __init__(self, in_channels: int, num_image_channels: int, sample_size: int, class_embed_type=None):
        super().__init__()
        self.register_buffer("image_target", torch.zeros(1, num_image_channels, sample_size, sample_size))
        self.register_buffer(
            "label_target", torch.zeros(1, in_channels - num_image_channels, sample_size, sample_size)
        )
        self.out_channels = in_channels
        self.register_to_config(out_channels=in_channels)
        self.seen_label_timesteps = []

    def forward(self, sample, timestep, class_labels=None):
        c = self.config.num_image_channels
        x, y = sample[:, :c], sample[:, c:]
        s_x = (timestep / 1000).reshape(-1, 1, 1, 1)
        s_y = (class_labels / 1000).reshape(-1, 1, 1, 1) if class_labels is not None else 1 - s_x
        self.seen_label_timesteps.append(None if class_labels is None else class_labels.clone())
        v_x = torch.where(s_x > 0, (self.image_target - x) / s_x.clamp_min(1e-12), torch.zeros_like(x))
        v_y = torch.where(s_y > 0, (y - self.label_target) / s_y.clamp_min(1e-12), torch.zeros_like(y))
        return torch.cat([v_x, v_y], dim=1)


def _oracle_pipeline(encoding, label_time, task="segmentation", num_classes=5):
    label_channels = LabelCodec(task=task, encoding=encoding, num_classes=num_classes).num_channels
    oracle = OracleVelocity(
        in_channels=1 + label_channels,
        num_image_channels=1,
        sample_size=PIXEL_SIZE,
        class_embed_type="timestep" if label_time else None,
    )
    return _quiet(
        SymmFlowPipeline(
            unet=oracle, scheduler=SymmFlowScheduler(), task=task, label_encoding=encoding, num_classes=num_classes
        )
    )


@pytest.mark.parametrize("encoding", ["onehot", "palette"])
@pytest.mark.parametrize("label_time", [True, False])
def test_oracle_segmentation_returns_the_known_mask(encoding, label_time):
    pipe = _oracle_pipeline(encoding, label_time)
    target = torch.from_numpy(np.random.default_rng(1).integers(0, 5, (1, PIXEL_SIZE, PIXEL_SIZE)))
    pipe.unet.label_target.copy_(pipe.encode_labels(target, (PIXEL_SIZE, PIXEL_SIZE)))
    for steps in (1, 3):
        out = pipe.segment(_images(pipe), num_inference_steps=steps, generator=_gen(steps), output_type="pt")
        torch.testing.assert_close(out.masks, target, rtol=0, atol=0)
    expected_mode = "conditional" if label_time else "joint"
    assert pipe.scheduler.mode == expected_mode


@pytest.mark.parametrize("encoding", ["onehot", "scalar"])
@pytest.mark.parametrize("label_time", [True, False])
def test_oracle_classification_returns_the_known_class(encoding, label_time):
    pipe = _oracle_pipeline(encoding, label_time, task="classification")
    for target in (0, 3):
        pipe.unet.label_target.copy_(pipe.encode_labels(torch.tensor([target]), (PIXEL_SIZE, PIXEL_SIZE)))
        for steps in (1, 3):
            out = pipe.classify(_images(pipe, batch=2), num_inference_steps=steps, generator=_gen(steps))
            assert out.labels.tolist() == [target, target]


@pytest.mark.parametrize("sampling_mode", ["joint", "conditional"])
def test_oracle_generation_returns_the_known_image(sampling_mode):
    pipe = _oracle_pipeline("onehot", label_time=True)
    target = _images(pipe)
    pipe.unet.image_target.copy_(target * 2 - 1)
    mask = torch.from_numpy(np.random.default_rng(2).integers(0, 5, (1, PIXEL_SIZE, PIXEL_SIZE)))
    images = pipe(mask=mask, num_inference_steps=4, generator=_gen(0), sampling_mode=sampling_mode, output_type="pt")
    torch.testing.assert_close(images.images, target, atol=1e-5, rtol=0)
    # The label side the model saw: clean (noise level 0) throughout in conditional mode, the paper's diagonal else.
    expected = [0.0, 250.0, 500.0, 750.0] if sampling_mode == "joint" else [0.0] * 4
    assert [float(t[0]) for t in pipe.unet.seen_label_timesteps] == expected


# ----------------------------------------------------------------------------------------------------------------
# Classifying with a segmentation model (single-object images, a background class)
# ----------------------------------------------------------------------------------------------------------------


def _with_background(pipe: SymmFlowPipeline, background_class) -> SymmFlowPipeline:
    return _quiet(
        SymmFlowPipeline(
            unet=pipe.unet,
            scheduler=pipe.scheduler,
            task="segmentation",
            label_encoding="onehot",
            num_classes=SEG_CLASSES,
            class_names=["bg", "a", "b"],
            background_class=background_class,
        )
    )


def test_a_segmentation_model_classifies_by_its_largest_object(pixel_seg_pipe):
    pipe = _with_background(pixel_seg_pipe, 0)
    masks = torch.zeros(2, PIXEL_SIZE, PIXEL_SIZE, dtype=torch.long)
    masks[0, :5, 0], masks[0, :3, 1] = 1, 2  # 5 pixels of "a", 3 of "b"
    pixel_scores = torch.zeros(2, SEG_CLASSES, PIXEL_SIZE, PIXEL_SIZE)
    pixel_scores[1, 0], pixel_scores[1, 2, 0, 0], pixel_scores[1, 0, 0, 0] = 1.0, 0.9, 0.1  # no object pixel
    labels, scores = pipe._classify_from_masks(masks, pixel_scores, background=0)
    assert labels.tolist() == [1, 2]
    torch.testing.assert_close(scores[0], torch.tensor([0.0, 5 / 8, 3 / 8]))
    torch.testing.assert_close(scores[1], torch.tensor([0.0, 0.0, 1.0]))

    # End to end: the label is the largest non-background class of the mask `segment` returns.
    images = _images(pipe, batch=3)
    out = pipe.classify(images, generator=[_gen(i) for i in range(3)])
    segmented = pipe.segment(images, generator=[_gen(i) for i in range(3)], output_type="pt")
    expected, _ = pipe._classify_from_masks(segmented.masks, segmented.scores, background=0)
    assert out.labels.tolist() == expected.tolist() and 0 not in out.labels.tolist()
    assert out.class_names == [["bg", "a", "b"][i] for i in out.labels.tolist()]
    torch.testing.assert_close(out.scores.sum(dim=1), torch.ones(3))

    reloaded_config = dict(pipe.config)
    assert reloaded_config["background_class"] == 0


def test_background_class_is_checked(pixel_seg_pipe, pixel_cls_pipe):
    with pytest.raises(ValueError, match="without one: use `segment`"):
        pixel_seg_pipe.classify(_images(pixel_seg_pipe))
    with pytest.raises(ValueError, match=r"`background_class` must be a class id in \[0, 3\), got 3"):
        _with_background(pixel_seg_pipe, 3)
    with pytest.raises(ValueError, match="applies to segmentation models only"):
        SymmFlowPipeline(
            unet=pixel_cls_pipe.unet,
            scheduler=SymmFlowScheduler(),
            task="classification",
            label_encoding="scalar",
            num_classes=4,
            background_class=0,
        )
