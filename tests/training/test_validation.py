"""Validation during training: scores and grids from the pipeline, with every global RNG left as it was."""

import numpy as np
import pytest
import torch

from diffusers_symmflow import SymmFlowPipeline, SymmFlowScheduler
from diffusers_symmflow.training.validation import image_grid, rgb_uint8, run_validation


def batches(num_batches: int = 2, batch_size: int = 3) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    return [
        {
            "pixel_values": torch.rand(batch_size, 1, 8, 8, generator=generator) * 2 - 1,
            "labels": torch.randint(0, 3, (batch_size, 8, 8), generator=generator),
        }
        for _ in range(num_batches)
    ]


@pytest.fixture
def pipe(tiny_pixel_unet):
    unet = tiny_pixel_unet(image_channels=1, label_channels=3).train()
    return SymmFlowPipeline(unet=unet, scheduler=SymmFlowScheduler(), num_classes=3)


def test_scores_and_grids_leave_the_training_run_alone(pipe):
    state = torch.get_rng_state()
    result = run_validation(pipe, batches(), "segmentation", inference_steps=2, num_images=4, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert pipe.unet.training  # back in training mode
    assert set(result.metrics) == {"mean_iou", "pixel_accuracy"}
    assert all(0.0 <= value <= 1.0 for value in result.metrics.values())
    # Generated images over their masks; validation images, true masks and predicted masks: 4 of each.
    assert result.grid.shape == (2 * 8, 4 * 8, 3) and result.grid.dtype == np.uint8
    assert result.segmentations.shape == (3 * 8, 4 * 8, 3)
    np.testing.assert_array_equal(
        result.grid[8:],
        np.concatenate(
            list(pipe.label_codec.colorize(torch.cat([batch["labels"] for batch in batches()])[:4])), axis=1
        ),
    )
    # Its own seeded noise: the same seed gives the same result.
    again = run_validation(pipe, batches(), "segmentation", inference_steps=2, num_images=4, seed=3)
    assert again.metrics == result.metrics and np.array_equal(again.grid, result.grid)


def test_no_images_asked_and_an_empty_set(pipe):
    result = run_validation(pipe, batches(), "segmentation", num_images=0)
    assert (
        result.grid is None and result.segmentations is None and set(result.metrics) == {"mean_iou", "pixel_accuracy"}
    )
    with pytest.raises(ValueError, match="validation set is empty .* `max_eval_samples` / `validation_split`"):
        run_validation(pipe, [], "segmentation")


def test_grid_helpers():
    gray = np.linspace(0, 1, 2 * 2 * 2).reshape(2, 2, 2, 1) * 1.2 - 0.1  # out of range at both ends
    rgb = rgb_uint8(gray)
    assert rgb.shape == (2, 2, 2, 3) and rgb.dtype == np.uint8 and rgb.min() == 0 and rgb.max() == 255
    assert np.array_equal(rgb[..., 0], rgb[..., 2])
    grid = image_grid([rgb, 255 - rgb])
    assert grid.shape == (4, 4, 3)
    assert np.array_equal(grid[:2, 2:], rgb[1]) and np.array_equal(grid[2:, :2], 255 - rgb[0])
