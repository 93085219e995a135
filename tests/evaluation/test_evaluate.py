"""The evaluation runner on an exact-velocity oracle (hand-computable scores) and on tiny random UNets (plumbing).

The oracle knows a data set in which images and labels determine each other: pixel value `levels[c]` <-> class `c`
(segmentation, per pixel), or a constant image of `levels[c]` <-> class `c` (classification), with the K levels
evenly spaced in [-1, 1]. It returns the exact
straight-line velocity towards the other side, so the pipeline recovers every label exactly at any step count and in
both sampling modes, and every score is known in advance.
"""

import importlib.util
import json
import math
import os
import sys
import types

import numpy as np
import PIL.Image
import pytest
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from torch import nn

from diffusers_symmflow.data import load_symmflow_data
from diffusers_symmflow.evaluation import (
    accuracy,
    confusion_matrix,
    feature_models,
    label_confusion_matrix,
    label_scores,
    mean_iou,
    summarize_report,
)
from diffusers_symmflow.evaluation.evaluate import (
    EvaluationResults,
    evaluate_classification,
    evaluate_generation,
    evaluate_pipeline,
    evaluate_segmentation,
    make_generators,
    resolve_guidance_scales,
    resolve_sampling_modes,
)
from diffusers_symmflow.labels import LabelCodec
from diffusers_symmflow.pipelines import SymmFlowPipeline
from diffusers_symmflow.schedulers import SymmFlowScheduler


SIZE = 8


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run these tiny models on one thread: on a busy 2-core machine, torch's worker threads spin-wait and make a
    forward pass of an 8x8 UNet ~50x slower than on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class MappingOracle(ModelMixin, ConfigMixin):
    """Exact SymmFlow velocity for data where image and label determine each other (see the module docstring).

    Which side is being generated is read off the state: a label side that is exactly a clean code is the given
    side (generation), anything else is label noise (segmentation / classification). The given side gets velocity
    0, so it stays clean in both sampling modes; the other side moves straight to its clean end:
    `v_x = (x* - x) / s_x`, `v_y = (y - y*) / s_y`. Unlabelled pixels (`ignore_index` outside the classes) are drawn
    with the last class's level.
    """

    @register_to_config
    def __init__(
        self,
        task="segmentation",
        encoding="onehot",
        num_classes=3,
        ignore_index=None,
        sample_size=SIZE,
        class_embed_type=None,
        in_channels=None,
        out_channels=None,
    ):
        super().__init__()
        self.codec = LabelCodec(task=task, encoding=encoding, num_classes=num_classes, ignore_index=ignore_index)
        self.register_to_config(in_channels=1 + self.codec.num_channels, out_channels=1 + self.codec.num_channels)
        self.register_buffer("levels", torch.linspace(-1, 1, num_classes))

    def image_of(self, labels: torch.Tensor) -> torch.Tensor:
        labels = labels.clamp(0, self.config.num_classes - 1)
        if self.config.task == "classification":
            return self.levels[labels][:, None, None, None].expand(-1, 1, SIZE, SIZE)
        return self.levels[labels][:, None]

    def labels_of(self, images: torch.Tensor) -> torch.Tensor:
        values = images.mean((1, 2, 3)) if self.config.task == "classification" else images[:, 0]
        return (values[..., None] - self.levels).abs().argmin(-1)

    def forward(self, sample, timestep, class_labels=None):
        x, y = sample[:, :1], sample[:, 1:]
        s_x = (timestep / 1000).reshape(-1, 1, 1, 1)
        s_y = (class_labels / 1000).reshape(-1, 1, 1, 1) if class_labels is not None else 1 - s_x
        decoded = self.codec.decode(y).labels
        y_is_clean = (
            (self.codec.encode(decoded, spatial_size=(SIZE, SIZE)) == y).flatten(1).all(1)[:, None, None, None]
        )
        v_x = torch.where(y_is_clean & (s_x > 0), (self.image_of(decoded) - x) / s_x.clamp_min(1e-12), 0.0)
        y_target = self.codec.encode(self.labels_of(x), spatial_size=(SIZE, SIZE))
        v_y = torch.where(~y_is_clean & (s_y > 0), (y - y_target) / s_y.clamp_min(1e-12), 0.0)
        return torch.cat([v_x, v_y], dim=1)


def oracle_pipeline(
    task="segmentation", encoding="onehot", num_classes=3, ignore_index=None, label_time=True, class_names=None
):
    oracle = MappingOracle(
        task=task,
        encoding=encoding,
        num_classes=num_classes,
        ignore_index=ignore_index,
        class_embed_type="timestep" if label_time else None,
    )
    pipe = SymmFlowPipeline(
        unet=oracle,
        scheduler=SymmFlowScheduler(),
        task=task,
        label_encoding=encoding,
        num_classes=num_classes,
        ignore_index=ignore_index,
        class_names=class_names,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def segmentation_items(pipe, masks):
    """Items whose images show `masks` exactly (through the oracle's levels)."""
    masks = torch.as_tensor(masks)
    images = pipe.unet.image_of(masks)
    return [{"pixel_values": image, "labels": mask} for image, mask in zip(images, masks)]


def hand_made_segmentation_set(pipe):
    """Image A shows class 0 everywhere, its mask says class 1 on its top two rows; image B shows class 2, and the
    top two rows of its mask are unlabelled (255).

    Confusion (rows true, columns predicted): [0, 0] = 48, [1, 0] = 16, [2, 2] = 48; 16 pixels ignored. IoU: class 0
    48 / 64, class 1 0 / 16, class 2 48 / 48; mIoU 1.75 / 3; pixel accuracy 96 / 112.
    """
    masks = torch.stack([torch.zeros(SIZE, SIZE, dtype=torch.long), torch.full((SIZE, SIZE), 2)])
    items = segmentation_items(pipe, masks)
    items[0]["labels"] = items[0]["labels"].clone()
    items[0]["labels"][:2] = 1
    items[1]["labels"] = items[1]["labels"].clone()
    items[1]["labels"][:2] = 255
    return items


def random_masks(count, num_classes=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, num_classes, (count, SIZE, SIZE)))


# ----------------------------------------------------------------------------------------------------------------
# Segmentation and classification scores
# ----------------------------------------------------------------------------------------------------------------


def test_oracle_segmentation_gives_the_hand_computed_scores_at_every_step_count_and_mode():
    pipe = oracle_pipeline(ignore_index=255, class_names=["zero", "one", "two"])
    items = hand_made_segmentation_set(pipe)
    results = evaluate_segmentation(
        pipe, items, steps=(1, 3, 2), sampling_modes=("joint", "conditional"), batch_size=1, progress=False
    )
    assert list(results.prediction) == ["joint", "conditional"]
    for mode in ("joint", "conditional"):
        assert sorted(results.prediction[mode]) == [1, 2, 3]
        for scores in results.prediction[mode].values():
            assert scores["mean_iou"] == pytest.approx(1.75 / 3, abs=1e-12)
            assert scores["per_class_iou"] == pytest.approx([0.75, 0.0, 1.0], abs=1e-12)
            assert scores["pixel_accuracy"] == pytest.approx(96 / 112, abs=1e-12)
            assert scores["num_images"] == 2
    assert results.ignore_index == 255 and results.class_names == ["zero", "one", "two"]


def test_oracle_segmentation_of_consistent_data_is_perfect_and_matches_mean_iou():
    pipe = oracle_pipeline(label_time=False)
    masks = random_masks(5)
    # A one-shot generator: the runner reads it into a list first. Batches of 2 leave a last batch of 1.
    results = evaluate_segmentation(
        pipe, iter(segmentation_items(pipe, masks)), steps=(1, 4), batch_size=2, progress=False
    )
    assert list(results.prediction) == ["joint"]  # the default of a model without a label time
    for scores in results.prediction["joint"].values():
        expected = mean_iou(masks, masks, 3)
        assert scores["mean_iou"] == expected.mean_iou == 1.0
        assert scores["pixel_accuracy"] == 1.0 and scores["per_class_iou"] == [1.0, 1.0, 1.0]


def test_a_predicted_unlabelled_pixel_is_a_miss_but_no_false_positive():
    # K = 2, ignore_index 255 has a code of its own, so the model can predict it.
    pipe = oracle_pipeline(num_classes=2, ignore_index=255)
    target = torch.tensor([[[0, 0], [1, 255]]])
    pred = torch.tensor([[[0, 255], [1, 1]]])
    confusion = label_confusion_matrix(pred, target, pipe.label_codec)
    assert confusion.tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    scores = label_scores(confusion, pipe.label_codec, per_class=True)
    # Class 0: TP 1, FN 1 (the 255 prediction) -> 1/2; class 1: TP 1, nothing else (the ignored pixel's 1 is dropped).
    assert scores == {"mean_iou": 0.75, "pixel_accuracy": pytest.approx(2 / 3), "per_class_iou": [0.5, 1.0]}


@pytest.mark.parametrize("encoding", ["onehot", "scalar"])
def test_oracle_classification_accuracy_and_confusion_matrix(encoding):
    pipe = oracle_pipeline(task="classification", encoding=encoding, num_classes=4)
    shown = torch.tensor([0, 1, 2, 3, 3, 2])  # what the images show, and so what the oracle predicts
    labels = torch.tensor([0, 1, 2, 3, 1, 0])  # the last two are labelled differently
    images = pipe.unet.image_of(shown)
    items = [{"pixel_values": image, "labels": int(label)} for image, label in zip(images, labels)]
    results = evaluate_classification(pipe, items, steps=(1, 2), sampling_modes=None, batch_size=4, progress=False)
    assert list(results.prediction) == ["conditional"]
    expected_confusion = [[1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1]]
    for scores in results.prediction["conditional"].values():
        assert scores["accuracy"] == pytest.approx(4 / 6) == accuracy(shown, labels)
        assert scores["confusion_matrix"] == expected_confusion == confusion_matrix(shown, labels, 4).tolist()


# ----------------------------------------------------------------------------------------------------------------
# Modes and bad input
# ----------------------------------------------------------------------------------------------------------------


def test_sampling_modes_are_resolved_and_conditional_is_skipped_with_a_note_without_label_time():
    joint_only = oracle_pipeline(label_time=False)
    modes, notes = resolve_sampling_modes(joint_only, ("joint", "conditional", None))
    assert modes == ["joint"] and len(notes) == 1 and "no label time input" in notes[0]
    with pytest.raises(ValueError, match="None of the sampling modes"):
        resolve_sampling_modes(joint_only, "conditional")
    both = oracle_pipeline(label_time=True)
    assert resolve_sampling_modes(both, None) == (["conditional"], [])
    assert resolve_sampling_modes(both, ("conditional", "joint", None)) == (["conditional", "joint"], [])
    with pytest.raises(ValueError, match="Unknown sampling mode 'ode'"):
        resolve_sampling_modes(both, ("joint", "ode"))

    items = segmentation_items(joint_only, random_masks(2))
    results = evaluate_segmentation(
        joint_only, items, steps=(1,), sampling_modes=("joint", "conditional"), progress=False
    )
    assert list(results.prediction) == ["joint"] and "no label time input" in results.notes[0]
    assert "no label time input" in results.to_markdown()


def test_bad_inputs_raise_before_or_while_reading_the_data():
    seg = oracle_pipeline()
    items = segmentation_items(seg, random_masks(2))
    with pytest.raises(
        ValueError, match="segmentation model, not a classification model; use `evaluate_segmentation`"
    ):
        evaluate_classification(seg, items, progress=False)
    with pytest.raises(ValueError, match=r"`steps\[1\]` must be a positive integer, got 0"):
        evaluate_segmentation(seg, items, steps=(1, 0), progress=False)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer, got 0"):
        evaluate_segmentation(seg, items, batch_size=0, progress=False)
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]; item 0 span \[255.0, 255.0\]"):
        evaluate_segmentation(
            seg, [{"pixel_values": torch.full((1, SIZE, SIZE), 255.0), "labels": items[0]["labels"]}], progress=False
        )
    with pytest.raises(ValueError, match=r"needs \[H, W\] masks as 'labels', got labels of shape \[\]"):
        evaluate_segmentation(seg, [{"pixel_values": items[0]["pixel_values"], "labels": 1}], progress=False)
    with pytest.raises(ValueError, match="must be a dict with 'pixel_values' and 'labels'"):
        evaluate_segmentation(seg, [{"image": 1}], progress=False)
    with pytest.raises(ValueError, match="integer class ids"):
        evaluate_segmentation(
            seg, [{"pixel_values": items[0]["pixel_values"], "labels": torch.zeros(SIZE, SIZE)}], progress=False
        )
    with pytest.raises(ValueError, match="empty"):
        evaluate_segmentation(seg, [], progress=False)
    with pytest.raises(ValueError, match=r"`num_generated` must be an integer >= 2"):
        evaluate_generation(seg, items, steps=(1,), num_generated=1, feature_extractor=nn.Flatten(), progress=False)


def test_generators_are_per_image_and_per_stream():
    first = [g.initial_seed() for g in make_generators(0, [0, 1, 2])]
    assert len(set(first)) == 3
    assert [g.initial_seed() for g in make_generators(0, [1, 2])] == first[1:]  # independent of the batch split
    assert make_generators(0, [1], "generation")[0].initial_seed() != first[1]
    assert make_generators(1, [1])[0].initial_seed() != first[1]
    with pytest.raises(ValueError, match="Unknown generator stream 'x'"):
        make_generators(0, [0], "x")


def test_scores_of_a_random_unet_do_not_depend_on_the_batch_size(tiny_pixel_unet):
    unet = tiny_pixel_unet(image_channels=1, label_channels=3, sample_size=SIZE, label_time=True)
    pipe = SymmFlowPipeline(unet=unet, scheduler=SymmFlowScheduler(), task="segmentation", num_classes=3)
    masks = random_masks(5, seed=3)
    items = [{"pixel_values": torch.rand(1, SIZE, SIZE) * 2 - 1, "labels": m} for m in masks]
    one = evaluate_segmentation(pipe, items, steps=(1, 2), batch_size=5, progress=False).prediction
    two = evaluate_segmentation(pipe, items, steps=(1, 2), batch_size=2, progress=False).prediction
    for steps in (1, 2):
        for key in ("mean_iou", "pixel_accuracy", "per_class_iou"):
            assert one["conditional"][steps][key] == pytest.approx(two["conditional"][steps][key], abs=1e-12)
    # The same numbers as segmenting by hand with the documented per-image generators.
    images = torch.stack([item["pixel_values"] for item in items])
    masks_pred = pipe.segment(
        (images + 1) / 2, num_inference_steps=2, generator=make_generators(0, range(5)), output_type="pt"
    ).masks
    assert one["conditional"][2]["mean_iou"] == pytest.approx(mean_iou(masks_pred, masks, 3).mean_iou, abs=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------------------------


def test_oracle_generation_reproduces_the_real_images_with_the_default_feature_classifier(capsys):
    pipe = oracle_pipeline(class_names=["background", "a", "b"])
    masks = random_masks(6, seed=1)
    masks[:, :4] = 0  # the background covers half of each mask, so the majority class must skip it
    items = segmentation_items(pipe, masks)
    results = evaluate_generation(
        pipe,
        items,
        steps=(1, 2),
        sampling_modes=("joint", "conditional"),
        feature_classifier_steps=3,
        batch_size=4,
        lpips_pairs=0,
        progress=False,
    )
    # progress=False hides every bar, the feature classifier's training included.
    assert "Feature classifier" not in capsys.readouterr().err
    info = results.settings["feature_extractor"]
    assert info["train_images"] == 6 and "not counting classes [0]" in info["classes"]
    for mode in ("joint", "conditional"):
        for scores in results.generation[mode].values():
            # Generated images equal the real ones, so their features too.
            assert scores["fid"] == pytest.approx(0.0, abs=1e-6)
            assert math.isfinite(scores["kid_mean"])
            assert scores["round_trip_mean_iou"] == 1.0 and scores["round_trip_pixel_accuracy"] == 1.0
            # The classifier judges the generated images exactly as it judged the real ones after training.
            assert scores["class_consistency"] == pytest.approx(info["train_accuracy"], abs=1e-12)
            assert scores["lpips_diversity"] is None and scores["lpips_to_real"] is None and scores["num_images"] == 6
    assert any("LPIPS not requested" in note for note in results.notes)


def test_generation_with_a_user_feature_extractor_detects_a_shift_and_skips_class_consistency():
    pipe = oracle_pipeline(task="classification", num_classes=4, label_time=False)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    items = [{"pixel_values": image, "labels": int(label)} for image, label in zip(pipe.unet.image_of(labels), labels)]

    class Mean(nn.Module):
        name = "image mean"

        def forward(self, images):
            return images.mean((1, 2, 3))[:, None]

    results = evaluate_generation(pipe, items, steps=(2,), feature_extractor=Mean(), lpips_pairs=0, progress=False)
    scores = results.generation["joint"][2]
    assert scores["fid"] == pytest.approx(0.0, abs=1e-12) and scores["round_trip_accuracy"] == 1.0
    assert scores["class_consistency"] is None
    assert results.settings["feature_extractor"] == {"name": "image mean"}
    assert any("Class consistency not measured" in note for note in results.notes)

    # Generating 4 images from the first 4 labels shifts the mean feature: the real set has two more 0s and 1s.
    shifted = evaluate_generation(
        pipe, items, steps=(2,), num_generated=4, feature_extractor=Mean(), lpips_pairs=0, progress=False
    ).generation["joint"][2]
    real, fake = pipe.unet.levels[labels].numpy() / 2 + 0.5, pipe.unet.levels[labels[:4]].numpy() / 2 + 0.5
    expected = (real.mean() - fake.mean()) ** 2 + (real.std(ddof=1) - fake.std(ddof=1)) ** 2
    assert shifted["fid"] == pytest.approx(expected, rel=1e-6) and shifted["fid"] > 1e-3


def test_generation_scores_one_row_per_mode_and_guidance_scale_with_the_pipelines_guided_images():
    pipe = oracle_pipeline(class_names=["background", "a", "b"])
    masks = random_masks(4, seed=2)
    items = segmentation_items(pipe, masks)
    kwargs = {
        "steps": (1,),
        "sampling_modes": ("joint", "conditional"),
        "feature_classifier_steps": 3,
        "batch_size": 4,
        "lpips_pairs": 0,
        "progress": False,
    }
    unguided = evaluate_generation(pipe, items, **kwargs)
    results = evaluate_generation(pipe, items, guidance_scales=(1, 2.0, 2), **kwargs)

    assert list(results.generation) == ["joint", "joint, guidance 2", "conditional", "conditional, guidance 2"]
    assert results.settings["guidance_scales"] == [1.0, 2.0]
    # Scale 1 is the unguided run, row names included (results written before guidance read the same).
    for mode in ("joint", "conditional"):
        timed = ("seconds_per_image",)
        assert {k: v for k, v in results.generation[mode][1].items() if k not in timed} == {
            k: v for k, v in unguided.generation[mode][1].items() if k not in timed
        }
        assert results.generation[mode][1]["fid"] == pytest.approx(0.0, abs=1e-6)
    for mode in ("joint", "conditional"):
        scores = results.generation[f"{mode}, guidance 2"][1]
        assert scores["guidance_scale"] == 2.0
        # The oracle's unconditional image velocity is 0, so w = 2 doubles the jump and overshoots the real images.
        assert scores["fid"] > 1e-3
        # The same numbers from the pipeline at guidance_scale=2 with the runner's documented noise.
        generated = pipe(
            mask=masks,
            num_inference_steps=1,
            sampling_mode=mode,
            guidance_scale=2.0,
            output_type="pt",
            generator=make_generators(0, range(4), "generation"),
        ).images
        round_trip = pipe.segment(
            generated,
            num_inference_steps=1,
            sampling_mode=mode,
            output_type="pt",
            generator=make_generators(0, range(4), "round_trip"),
        ).masks
        assert scores["round_trip_mean_iou"] == pytest.approx(mean_iou(round_trip, masks, 3).mean_iou, abs=1e-12)
        assert scores["round_trip_mean_iou"] < 1.0
    markdown = results.to_markdown()
    assert "| conditional, guidance 2 |" in markdown and "guidance_scale" not in markdown.split("## Generation")[1]
    assert EvaluationResults.from_dict(json.loads(results.to_json())) == results


def test_summarize_report_keeps_the_scores_a_study_needs():
    results = EvaluationResults(
        task="classification",
        num_classes=2,
        prediction={"conditional": {1: {"accuracy": 0.5, "confusion_matrix": [[1, 1], [0, 0]], "num_images": 2}}},
        generation={
            "conditional": {25: {"fid": 3.25, "lpips_to_real": None, "guidance_scale": 1.0, "num_images": 8}},
            "conditional, guidance 2": {25: {"fid": 2.5, "class_consistency": 0.75, "guidance_scale": 2.0}},
        },
        settings={"command": "evaluate_symmflow.py --pipeline p"},
    )
    expected = {
        "command": "evaluate_symmflow.py --pipeline p",
        "prediction": {"conditional": {1: {"accuracy": 0.5}}},
        "generation": {
            "conditional": {25: {"fid": 3.25, "guidance_scale": 1.0}},
            "conditional, guidance 2": {25: {"fid": 2.5, "class_consistency": 0.75, "guidance_scale": 2.0}},
        },
    }
    assert summarize_report(results.to_dict()) == expected
    # The parsed JSON keeps its string step keys; the numbers are the same.
    parsed = summarize_report(json.loads(results.to_json()))
    assert (
        parsed["generation"]["conditional, guidance 2"]["25"] == expected["generation"]["conditional, guidance 2"][25]
    )
    assert summarize_report(results.to_dict(), scores=("fid",))["generation"]["conditional"] == {25: {"fid": 3.25}}


def test_guidance_scales_are_checked_and_skipped_with_a_note_without_label_time():
    joint_only = oracle_pipeline(label_time=False)
    scales, notes = resolve_guidance_scales(joint_only, (1, 3))
    assert scales == [1.0] and len(notes) == 1 and "Skipped guidance_scale=3" in notes[0]
    with pytest.raises(ValueError, match="None of the guidance scales"):
        resolve_guidance_scales(joint_only, 3.0)
    both = oracle_pipeline(label_time=True)
    assert resolve_guidance_scales(both, 1.5) == ([1.5], [])
    assert resolve_guidance_scales(both, (0, 1, 5, 1.0)) == ([0.0, 1.0, 5.0], [])
    for bad, message in (
        ((), "`guidance_scales` is empty"),
        ((1, -1), r"`guidance_scales\[1\]` must be a finite"),
        ((float("nan"),), r"`guidance_scales\[0\]`"),
        ((True,), r"`guidance_scales\[0\]`"),
        (("2",), r"`guidance_scales\[0\]`"),
    ):
        with pytest.raises(ValueError, match=message):
            resolve_guidance_scales(both, bad)

    items = segmentation_items(joint_only, random_masks(2))
    results = evaluate_generation(
        joint_only,
        items,
        steps=(1,),
        guidance_scales=(1, 3),
        feature_extractor=nn.Flatten(),
        lpips_pairs=0,
        progress=False,
    )
    assert list(results.generation) == ["joint"] and results.settings["guidance_scales"] == [1.0]
    assert any("Skipped guidance_scale=3" in note for note in results.notes)


def test_lpips_to_real_takes_the_real_image_first():
    from diffusers_symmflow.evaluation.evaluate import lpips_to_real

    class Signed(nn.Module):  # asymmetric on purpose: its sign shows the argument order
        def forward(self, a, b):
            return (a - b).mean((1, 2, 3), keepdim=True)

    real, generated = torch.full((2, 1, 4, 4), 0.75), torch.full((2, 1, 4, 4), 0.25)
    # [0, 1] images become LPIPS' [-1, 1] input: 0.5 - (-0.5) = 1 with the real image first.
    torch.testing.assert_close(lpips_to_real(Signed(), real, generated, "cpu"), torch.ones(2))
    torch.testing.assert_close(lpips_to_real(Signed(), real, real, "cpu"), torch.zeros(2))


def test_lpips_diversity_runs_when_the_package_and_weights_are_on_disk(monkeypatch, tmp_path):
    calls = []

    class FakeLPIPS(nn.Module):
        def __init__(self, net, verbose):
            super().__init__()
            assert net == "alex"

        def forward(self, a, b):
            calls.append((tuple(a.shape), float(a.min()), float(a.max())))
            return (a - b).abs().mean((1, 2, 3), keepdim=True)

    monkeypatch.setitem(sys.modules, "lpips", types.SimpleNamespace(LPIPS=FakeLPIPS))
    weights = tmp_path / "alexnet.pth"
    pipe = oracle_pipeline()
    items = segmentation_items(pipe, random_masks(5, seed=2))
    kwargs = {"steps": (1,), "feature_extractor": nn.Flatten(), "lpips_pairs": 3, "batch_size": 2, "progress": False}

    monkeypatch.setattr(feature_models, "lpips_weights_path", lambda: str(weights))
    missing = evaluate_generation(pipe, items, **kwargs)
    assert missing.generation["conditional"][1]["lpips_diversity"] is None and not calls
    assert any("weights are not on disk" in note for note in missing.notes)

    weights.write_bytes(b"")
    results = evaluate_generation(pipe, items, **kwargs)
    # The oracle ignores the noise, so two samples of one mask are identical: diversity 0 (up to round-off), 3 pairs.
    assert results.generation["conditional"][1]["lpips_diversity"] == pytest.approx(0.0, abs=1e-6)
    # The oracle's samples show their masks exactly, as the real images do: LPIPS to the real image 0 too.
    assert results.generation["conditional"][1]["lpips_to_real"] == pytest.approx(0.0, abs=1e-6)
    assert [shape[0] for shape, _, _ in calls] == [2, 2, 1, 1] and all(shape[1] == 3 for shape, _, _ in calls)
    assert min(low for _, low, _ in calls) >= -1 and max(high for _, _, high in calls) <= 1


# ----------------------------------------------------------------------------------------------------------------
# Results: JSON, markdown, plots
# ----------------------------------------------------------------------------------------------------------------


def test_results_round_trip_through_json_and_render_as_markdown_and_plots(tmp_path):
    pipe = oracle_pipeline(ignore_index=255, class_names=["zero", "one", "two"])
    items = hand_made_segmentation_set(pipe)
    results = evaluate_pipeline(
        pipe,
        items,
        steps=(1, 2),
        sampling_modes=("joint", "conditional"),
        generation_steps=(1,),
        feature_extractor=nn.Flatten(),
        lpips_pairs=0,
        progress=False,
    )
    paths = results.save(tmp_path)
    loaded = EvaluationResults.from_json(paths["json"])
    assert loaded == results
    assert set(json.loads((tmp_path / "results.json").read_text())["prediction"]["joint"]) == {"1", "2"}

    markdown = (tmp_path / "results.md").read_text()
    assert "| sampling | 1 step | 2 steps |" in markdown
    assert "| joint | 58.33 | 58.33 |" in markdown  # mIoU 1.75 / 3
    assert "| one | 0.00 | 0.00 |" in markdown  # per-class IoU of class 1
    assert "### Round-trip mIoU (%)" in markdown and "### FID" in markdown
    assert "LPIPS" not in markdown.split("## Notes")[0]  # not measured: in the notes, not as a table of n/a

    names = sorted(p.rsplit("/", 1)[-1] for p in paths["plots"])
    assert "prediction_mean_iou.png" in names and "generation_fid.png" in names
    assert not any("seconds" in name for name in names)
    for path in paths["plots"]:
        with open(path, "rb") as file:
            assert file.read(8) == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------------------------------------
# The command-line script, end to end on a tiny saved pipeline and a tiny local dataset
# ----------------------------------------------------------------------------------------------------------------

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "evaluate_symmflow.py")


@pytest.fixture(scope="module")
def evaluate_script():
    spec = importlib.util.spec_from_file_location("evaluate_symmflow", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def saved_pipeline_and_data(tmp_path_factory, tiny_pixel_unet):
    """A tiny random segmentation pipeline (8x8 grayscale, 3 classes) and a DatasetDict of PIL images, masks and
    class ids."""
    import datasets

    root = tmp_path_factory.mktemp("cli")
    unet = tiny_pixel_unet(image_channels=1, label_channels=3, sample_size=SIZE, label_time=True)
    pipe = SymmFlowPipeline(
        unet=unet,
        scheduler=SymmFlowScheduler(),
        task="segmentation",
        num_classes=3,
        class_names=["background", "a", "b"],
    )
    pipe.save_pretrained(root / "pipeline")

    rng = np.random.default_rng(0)

    def split(count):
        images = [PIL.Image.fromarray(rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)) for _ in range(count)]
        masks = [PIL.Image.fromarray(rng.integers(0, 3, (SIZE, SIZE), dtype=np.uint8)) for _ in range(count)]
        labels = rng.integers(0, 3, count).tolist()  # lets the data load as classification data too
        return datasets.Dataset.from_dict({"image": images, "mask": masks, "label": labels})

    datasets.DatasetDict({"train": split(8), "validation": split(4)}).save_to_disk(str(root / "data"))
    return root


def _cli_args(root, *extra):
    return [
        "--pipeline",
        str(root / "pipeline"),
        "--dataset_name",
        str(root / "data"),
        "--num_classes",
        "3",
        "--resolution",
        str(SIZE),
        "--batch_size",
        "4",
        "--no_progress",
        *extra,
    ]


def test_script_end_to_end_writes_json_markdown_and_plots_with_the_metric_functions_numbers(
    evaluate_script, saved_pipeline_and_data
):
    root = saved_pipeline_and_data
    output_dir = root / "evaluation"
    argv = _cli_args(
        root,
        "--steps",
        "1",
        "2",
        "--sampling_modes",
        "joint",
        "conditional",
        "--generation_steps",
        "1",
        "--feature_classifier_steps",
        "3",
        "--lpips_pairs",
        "0",
        "--output_dir",
        str(output_dir),
    )
    results = evaluate_script.main(argv)

    assert EvaluationResults.from_json(output_dir / "results.json") == results
    assert results.settings["command"].startswith("python examples/evaluate_symmflow.py --pipeline ")
    assert results.settings["feature_extractor"]["train_images"] == 8
    assert results.settings["feature_extractor"]["data"] == "the training split"
    markdown = (output_dir / "results.md").read_text()
    assert "### mIoU (%)" in markdown and "### Round-trip mIoU (%)" in markdown and "| conditional |" in markdown
    plots = sorted(os.listdir(output_dir / "plots"))
    assert "prediction_mean_iou.png" in plots and "generation_round_trip_mean_iou.png" in plots

    # The same numbers from the pipeline and the metric functions, with the runner's documented noise.
    pipe = SymmFlowPipeline.from_pretrained(str(root / "pipeline"))
    pipe.set_progress_bar_config(disable=True)
    data = load_symmflow_data(evaluate_script.data_config_from_args(evaluate_script.parse_args(argv)))
    images = torch.stack([item["pixel_values"] for item in data.validation])
    masks = torch.stack([item["labels"] for item in data.validation])
    for mode in ("joint", "conditional"):
        for steps in (1, 2):
            pred = pipe.segment(
                (images + 1) / 2,
                num_inference_steps=steps,
                sampling_mode=mode,
                output_type="pt",
                generator=make_generators(0, range(4), "prediction"),
            ).masks
            expected = mean_iou(pred, masks, 3)
            scores = results.prediction[mode][steps]
            assert scores["mean_iou"] == pytest.approx(expected.mean_iou, abs=1e-12)
            assert scores["pixel_accuracy"] == pytest.approx(expected.pixel_accuracy, abs=1e-12)
        generated = pipe(
            mask=masks,
            num_inference_steps=1,
            sampling_mode=mode,
            output_type="pt",
            generator=make_generators(0, range(4), "generation"),
        ).images
        round_trip = pipe.segment(
            generated,
            num_inference_steps=1,
            sampling_mode=mode,
            output_type="pt",
            generator=make_generators(0, range(4), "round_trip"),
        ).masks
        scores = results.generation[mode][1]
        assert scores["round_trip_mean_iou"] == pytest.approx(mean_iou(round_trip, masks, 3).mean_iou, abs=1e-12)
        assert scores["fid"] >= 0 and 0 <= scores["class_consistency"] <= 1 and scores["num_images"] == 4


def test_script_scores_generation_per_guidance_scale(evaluate_script, saved_pipeline_and_data):
    root = saved_pipeline_and_data
    output_dir = root / "evaluation_guided"
    argv = _cli_args(
        root,
        "--steps",
        "1",
        "--generation_steps",
        "2",
        "--guidance_scales",
        "1",
        "2.5",
        "--feature_classifier_steps",
        "3",
        "--lpips_pairs",
        "0",
        "--output_dir",
        str(output_dir),
    )
    results = evaluate_script.main(argv)

    assert list(results.generation) == ["conditional", "conditional, guidance 2.5"]
    assert EvaluationResults.from_json(output_dir / "results.json") == results
    assert "| conditional, guidance 2.5 |" in (output_dir / "results.md").read_text()
    pipe = SymmFlowPipeline.from_pretrained(str(root / "pipeline"))
    pipe.set_progress_bar_config(disable=True)
    masks = torch.stack(
        [
            item["labels"]
            for item in load_symmflow_data(
                evaluate_script.data_config_from_args(evaluate_script.parse_args(argv))
            ).validation
        ]
    )
    generated = {
        w: pipe(
            mask=masks,
            num_inference_steps=2,
            guidance_scale=w,
            output_type="pt",
            generator=make_generators(0, range(4), "generation"),
        ).images
        for w in (1.0, 2.5)
    }
    for w, row in ((1.0, "conditional"), (2.5, "conditional, guidance 2.5")):
        round_trip = pipe.segment(
            generated[w], num_inference_steps=1, output_type="pt", generator=make_generators(0, range(4), "round_trip")
        ).masks
        scores = results.generation[row][2]
        assert scores["round_trip_mean_iou"] == pytest.approx(mean_iou(round_trip, masks, 3).mean_iou, abs=1e-12)
    assert not torch.equal(generated[1.0], generated[2.5])  # guidance changed the images the scores came from
    assert evaluate_script.parse_args(_cli_args(root)).guidance_scales == [1.0]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--num_classes", "4"], "The data has num_classes=4 but the pipeline was trained with num_classes=3"),
        (
            ["--ignore_index", "255"],
            "The data has ignore_index=255 but the pipeline was trained with ignore_index=None",
        ),
        (["--task", "classification", "--num_classes", "3"], "The data has task='classification'"),
    ],
)
def test_script_refuses_data_labelled_unlike_the_model(
    evaluate_script, saved_pipeline_and_data, tmp_path, flags, message
):
    argv = _cli_args(saved_pipeline_and_data, "--output_dir", str(tmp_path / "out"))
    with pytest.raises(ValueError, match=message):
        evaluate_script.main(argv + flags)  # argparse: the last occurrence of a flag wins
    assert not (tmp_path / "out").exists()


def test_excluded_classes_follow_the_models_background_class():
    """One rule for 'which class is not an object': the pipeline's background_class, else a class named background."""
    from diffusers_symmflow.evaluation import default_excluded_classes

    named = oracle_pipeline(class_names=["background", "cat", "dog"])
    assert default_excluded_classes(named) == [0]
    keyed = oracle_pipeline(class_names=["cat", "sky", "dog"])
    keyed.register_to_config(background_class=1)
    assert default_excluded_classes(keyed) == [1]
    inside = oracle_pipeline(ignore_index=0, class_names=["void", "sky", "dog"])
    inside.register_to_config(background_class=1)
    assert default_excluded_classes(inside) == [0, 1]


def test_the_split_modules_own_their_names_and_the_old_paths_still_import():
    """Scoring (evaluate), reporting (report), data and noise (data), feature networks (feature_models): one owner
    each; `diffusers_symmflow.evaluation` and `...evaluation.evaluate` hand out the same objects as before the split."""
    import diffusers_symmflow.evaluation as evaluation
    from diffusers_symmflow.evaluation import data, evaluate, report

    assert evaluation.EvaluationResults is evaluate.EvaluationResults is report.EvaluationResults
    assert evaluation.make_generators is evaluate.make_generators is data.make_generators
    assert evaluate.GENERATOR_STREAMS is data.GENERATOR_STREAMS and evaluate.METRIC_DISPLAY is report.METRIC_DISPLAY
    for name in ("build_default_feature_classifier", "default_excluded_classes"):
        assert getattr(evaluation, name) is getattr(evaluate, name) is getattr(feature_models, name)
    for name in ("lpips_to_real", "lpips_weights_path", "LPIPS_ALEXNET_WEIGHTS"):
        assert getattr(evaluate, name) is getattr(feature_models, name)
