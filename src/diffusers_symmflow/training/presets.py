# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Named presets: the training settings whose best value depends on the task and the back-end, as one table.

`PRESETS[preset][row]` maps each of the `PRESET_SETTINGS` to its value; `preset_row` picks the row of a run. The
training script (`examples/train_symmflow.py`) uses the row as its parser's defaults, so any flag given on the
command line wins; a library user gets, e.g., the paper's model settings with::

    from diffusers_symmflow.training.presets import preset_row

    settings = preset_row("paper", task="segmentation", latent=False)
    settings["label_encoding"], settings["image_loss_weight"]  # ('palette', 0.9)

Two presets: `"symmflow"`, the project's settings, each measured against the paper's (why each row holds its values:
the readout study's sections 1c-1f, `examples/research_projects/readout_study/README.md`, and BENCHMARKS.md), and
`"paper"`, the paper's model as the authors' code trains it.
"""

from __future__ import annotations

from typing import Any

from ..data import TASKS


_PAPER_OBJECTIVE = {
    "label_prediction": "velocity",
    "label_input": "raw",
    "image_loss_weight": 0.9,
    "readout_probability": 0.0,
    "time_sampling": "uniform",
    "logit_mean": 0.0,
    "label_time": "diagonal",
}
_DIFFUSERS_OPTIMISATION = {
    "adam_weight_decay": 1e-2,
    "max_grad_norm": 1.0,
    "use_ema": False,
    "ema_decay": 0.999,
    "ema_constant_decay": False,
    "lr_scheduler": "cosine",
}
# The authors' code: AdamW without weight decay, no clipping, an EMA at a constant decay updated every step from the
# first, torch's OneCycleLR from 1e-6 (cosine warm-up and decay).
_AUTHORS_OPTIMISATION = {
    "adam_weight_decay": 0.0,
    "max_grad_norm": 0.0,
    "use_ema": True,
    "ema_decay": 0.999,
    "ema_constant_decay": True,
    "lr_scheduler": "one_cycle",
}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "symmflow": {
        # One-hot code with a logits head, trained with half of each batch at the one-step readout's point.
        "segmentation": {
            **_DIFFUSERS_OPTIMISATION,
            **_PAPER_OBJECTIVE,
            "unet_config": "narrow",
            "label_encoding": "onehot",
            "label_prediction": "logits",
            "label_input": "gated",
            "image_loss_weight": 0.2,
            "readout_probability": 0.5,
        },
        # One-hot code with a logits head, a quarter of each batch at the readout's point, image times drawn
        # logit-normal around the generation's start.
        "classification": {
            **_DIFFUSERS_OPTIMISATION,
            **_PAPER_OBJECTIVE,
            "unet_config": "narrow",
            "label_encoding": "onehot",
            "label_prediction": "logits",
            "label_input": "gated",
            "readout_probability": 0.25,
            "time_sampling": "logit_normal",
            "logit_mean": -1.0,
        },
        # A pixel model with the paper's velocity head (e.g. a scalar label code): the paper's objective.
        "velocity": {
            **_DIFFUSERS_OPTIMISATION,
            **_PAPER_OBJECTIVE,
            "unet_config": "narrow",
            "label_encoding": "onehot",
        },
        "latent": {
            **_DIFFUSERS_OPTIMISATION,
            **_PAPER_OBJECTIVE,
            "unet_config": None,
            "label_encoding": "palette",
            "image_loss_weight": 0.7,
        },
    },
    # The paper's model as the authors' code trains it: their label codes (scalar for classification, an RGB palette
    # for masks), velocity head, raw label input, image weight 0.9 (pixel) / 0.7 (latent), uniform time, the
    # diagonal label time, no readout share, and their optimisation. The UNet is the quickstart's (the recipes in
    # examples/recipes/ pick the paper's per dataset).
    "paper": {
        "segmentation": {
            **_AUTHORS_OPTIMISATION,
            **_PAPER_OBJECTIVE,
            "unet_config": "narrow",
            "label_encoding": "palette",
        },
        "classification": {
            **_AUTHORS_OPTIMISATION,
            **_PAPER_OBJECTIVE,
            "unet_config": "narrow",
            "label_encoding": "scalar",
        },
        "latent": {
            **_AUTHORS_OPTIMISATION,
            **_PAPER_OBJECTIVE,
            "unet_config": None,
            "label_encoding": "palette",
            "image_loss_weight": 0.7,
            "ema_decay": 0.9,
        },
    },
}
PRESET_SETTINGS: tuple[str, ...] = tuple(PRESETS["symmflow"]["segmentation"])
"""The settings every preset row holds (the same names as the training script's flags)."""


def preset_row(
    preset: str,
    task: str,
    latent: bool,
    label_encoding: str | None = None,
    label_prediction: str | None = None,
) -> dict[str, Any]:
    """The settings of `preset` for a run: its row for the back-end and task, or, for a pixel model whose label code
    or head makes it the paper's velocity model, the preset's `"velocity"` row (where it has one).

    Args:
        preset (`str`): a key of `PRESETS` (`"symmflow"` or `"paper"`).
        task (`str`): `"segmentation"` or `"classification"`.
        latent (`bool`): the latent back-end (a Stable Diffusion VAE and UNet), whose row is the same for both tasks.
        label_encoding (`str`, *optional*): a label code chosen apart from the preset (`"onehot"`, `"scalar"` or
            `"palette"`); it picks the row, not its value (a caller that chose a code keeps it).
        label_prediction (`str`, *optional*): a label head chosen apart from the preset (`"logits"` or
            `"velocity"`), likewise.

    Returns:
        `dict[str, Any]`: one value for each of `PRESET_SETTINGS` (a copy: changing it leaves the table alone).

    Raises:
        ValueError: if `preset` or `task` is unknown.
    """
    if preset not in PRESETS:
        raise ValueError(f"`preset` {preset!r} is not a preset; choose one of {sorted(PRESETS)}.")
    if task not in TASKS:
        raise ValueError(f"`task` {task!r} is not a task; choose one of {list(TASKS)}.")
    rows = PRESETS[preset]
    if latent:
        return dict(rows["latent"])
    row = rows[task]
    encoding = label_encoding or row["label_encoding"]
    prediction = label_prediction or (
        "logits" if encoding == "onehot" and row["label_prediction"] == "logits" else "velocity"
    )
    if prediction == "velocity" and "velocity" in rows:
        return dict(rows["velocity"])
    return dict(row)
