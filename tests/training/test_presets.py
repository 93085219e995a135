"""The preset table: every row sets every setting, and `preset_row` picks the row from explicit arguments."""

import pytest

from diffusers_symmflow.training.presets import PRESET_SETTINGS, PRESETS, preset_row


def test_every_row_sets_every_setting():
    for preset, rows in PRESETS.items():
        for row, values in rows.items():
            assert set(values) == set(PRESET_SETTINGS), (preset, row)


@pytest.mark.parametrize(
    "task, latent, encoding, weight, ema_decay",
    [("segmentation", False, "palette", 0.9, 0.999), ("classification", False, "scalar", 0.9, 0.999)]
    + [("segmentation", True, "palette", 0.7, 0.9)],
)
def test_the_papers_settings(task, latent, encoding, weight, ema_decay):
    row = preset_row("paper", task, latent)
    # The authors' label code, velocity head, raw label input, uniform time on the diagonal, no readout share...
    assert (row["label_encoding"], row["label_prediction"], row["label_input"]) == (encoding, "velocity", "raw")
    assert (row["image_loss_weight"], row["time_sampling"], row["label_time"]) == (weight, "uniform", "diagonal")
    assert row["readout_probability"] == 0.0
    # ... and their optimisation: AdamW without weight decay, no clipping, a constant-decay EMA, OneCycleLR.
    assert (row["adam_weight_decay"], row["max_grad_norm"], row["lr_scheduler"]) == (0.0, 0.0, "one_cycle")
    assert (row["use_ema"], row["ema_constant_decay"], row["ema_decay"]) == (True, True, ema_decay)


def test_a_chosen_code_or_head_picks_the_velocity_row():
    assert preset_row("symmflow", "segmentation", False) == PRESETS["symmflow"]["segmentation"]
    assert preset_row("symmflow", "classification", False)["time_sampling"] == "logit_normal"
    # A scalar code or the velocity head is the paper's velocity model: its objective, the project's optimisation.
    for choice in ({"label_encoding": "scalar"}, {"label_prediction": "velocity"}):
        row = preset_row("symmflow", "classification", False, **choice)
        assert row == PRESETS["symmflow"]["velocity"], choice
        assert (row["label_prediction"], row["readout_probability"], row["lr_scheduler"]) == (
            "velocity",
            0.0,
            "cosine",
        )
    assert preset_row("symmflow", "segmentation", True) == PRESETS["symmflow"]["latent"]


def test_the_row_is_a_copy_and_bad_names_are_refused_by_argument():
    row = preset_row("paper", "segmentation", False)
    row["image_loss_weight"] = 0.1
    assert PRESETS["paper"]["segmentation"]["image_loss_weight"] == 0.9
    with pytest.raises(ValueError, match=r"`preset` 'authors' is not a preset; choose one of \['paper', 'symmflow'\]"):
        preset_row("authors", "segmentation", False)
    with pytest.raises(ValueError, match="`task` 'depth' is not a task"):
        preset_row("paper", "depth", False)
