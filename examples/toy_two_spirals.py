# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The paper's Toy Example and Table 1: SymmFlow on two interleaved spirals, in both sampling modes.

A small MLP sees the joint state ``[x | y]`` (a 2-D point and its 1-D class code) and predicts ``[v_x | v_y]``.
Class codes come from ``LabelCodec(task="classification", encoding="scalar", num_classes=2)`` (-1 / +1) and are
dequantized with ``beta=127.5`` (total width 1.0 on the [-1, 1] scale), so class A is uniform in [-1.5, -0.5] and
class B in [0.5, 1.5], as in the paper. Everything SymmFlow-specific (paths, targets, loss, Euler steps, label
codes) comes from the package; this file only adds the data, the MLPs and the bookkeeping.

Two settings (``--setting``):

* ``authors`` (default): the authors' notebook (their repository's ``src/symmetricflow/ToyExample.ipynb``): arms
  ``r (cos theta, sin theta)`` with ``theta = sqrt(linspace(0, 4 pi, n))``, ``r = linspace(0, 1, n)``, the second arm
  rotated by pi and shifted by (0.5, 0), Gaussian noise 0.1, a fresh batch of 10,000 every step; an MLP of 10
  residual blocks (BatchNorm1d, Linear 11 -> 11, ReLU) on ``[x, y, label]`` and 8 sin/cos features of the raw time
  (frequencies pi, 2 pi, 3 pi, 4 pi); Adam at 1e-2 for 6,000 steps with no schedule, EMA or clipping; loss
  0.9 MSE_x + 0.1 MSE_y with sigma_min = 0; BatchNorm in eval mode for sampling; generation starts from the
  dequantized class code, as the notebook's does.
* ``project``: this project's earlier setting (1.5-turn spirals from a fixed pool of 10,000 points, a 4 x 256 SiLU
  MLP, batch 512, Adam 2e-3 with a cosine schedule, sigma_min = 1e-4, generation from the exact class code).

Two model configurations are trained per seed with the same budget:

* ``diagonal``: the paper's objective (the label's noise level equals the image time) and a model with one time
  input. It can only sample the paper's joint ODE.
* ``mixed``: half of the samples on the paper's diagonal, half with an independent label noise level, and a model
  that also receives the label's noise level. It can sample the joint ODE and the ``conditional`` mode, which holds
  the given side clean and integrates only the other one.

Evaluation, per seed (``--seeds``; tables give the mean and the range):

* classification: integrate t: 1 -> 0 from (held-out point, label noise) with 1, 2, 5, 10, 20 and 50 Euler steps and
  decode the label with the codec (nearest class code, i.e. the sign), paper Table 1;
* generation class consistency: integrate t: 0 -> 1 from (image noise, class code) with the same step counts and
  with ``--long_steps`` (1,000, the notebook's), and check with a k-NN rule on real points which spiral the
  generated point lands on;
* the Figure 4 analogue: samples at 20 and at 1,000 Euler steps.

Run (about ten minutes on two CPU cores for three seeds)::

    HF_HUB_OFFLINE=1 PYTHONPATH=src python examples/toy_two_spirals.py

It prints the tables, and writes ``toy_results.md``, ``toy_results.json`` and ``toy_two_spirals.png`` to
``--output_dir``.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.embeddings import Timesteps
from diffusers.optimization import get_scheduler
from sklearn.neighbors import KNeighborsClassifier
from tqdm.auto import tqdm

from diffusers_symmflow.inputs import check_positive_int
from diffusers_symmflow.labels import LabelCodec, dequantize
from diffusers_symmflow.models import predict_velocity
from diffusers_symmflow.objective import SymmFlowObjective
from diffusers_symmflow.schedulers import SymmFlowScheduler
from diffusers_symmflow.schedulers.scheduling_symmflow import SAMPLING_MODES


PAPER_TABLE_1 = {1: 100.0, 2: 92.0, 5: 87.0, 10: 83.6, 20: 82.6, 50: 82.0}
STEP_COUNTS = (1, 2, 5, 10, 20, 50)
DATA_DIM = 2
# Paper: class A uniform in [-1.5, -0.5], class B in [0.5, 1.5] around the codes -1 / +1, i.e. a total width of 1.0,
# which is 127.5 in the codec's 8-bit units.
LABEL_DEQUANTIZATION_BETA = 127.5
# label_time: the objective's; label_time_input: whether the model receives the label's noise level (as diffusers UNets
# do, declared by class_embed_type="timestep").
CONFIGS = {
    "diagonal": {"label_time": "diagonal", "label_time_input": False, "modes": ("joint",)},
    "mixed": {"label_time": "mixed", "label_time_input": True, "modes": ("joint", "conditional")},
}
# What differs between the authors' notebook and this project's earlier toy; flags override either.
SETTINGS = {
    "authors": {
        "model": "authors",
        "num_blocks": 10,
        "hidden_dim": 0,
        "num_layers": 0,
        "learning_rate": 1e-2,
        "lr_schedule": "constant",
        "batch_size": 10000,
        "num_train_steps": 6000,
        "sigma_min": 0.0,
        "data": "authors",
        "generation_label": "dequantized",
    },
    "project": {
        "model": "project",
        "num_blocks": 0,
        "hidden_dim": 256,
        "num_layers": 4,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "batch_size": 512,
        "num_train_steps": 6000,
        "sigma_min": 1e-4,
        "data": "project",
        "generation_label": "code",
    },
}
CLASS_NAMES = ("A", "B")


class AuthorsToyMLP(ModelMixin, ConfigMixin):
    """The authors' toy model: residual blocks of (BatchNorm1d, Linear, ReLU) at the input's width, with the diffusers
    UNet calling convention.

    The input is the joint state `[x | y]` and `time_features` sin / cos features of the raw image time `t` in
    [0, 1] (frequencies pi, 2 pi, ...: `sin(k pi t)` then `cos(k pi t)`), and, with `class_embed_type="timestep"`, the same
    features of the label's noise level `s`. Every block keeps that width (11 for the notebook's model).

    Args:
        data_dim (`int`, defaults to 2): channels of the data part `x`.
        label_dim (`int`, defaults to 1): channels of the label part `y`.
        num_blocks (`int`, defaults to 10): residual blocks.
        time_features (`int`, defaults to 8): sin / cos features per time input (even).
        class_embed_type (`str` or `None`, defaults to `None`): `"timestep"` gives the model the label's noise level
            as a second time input through `class_labels`, declared the way diffusers' UNets declare it (which is
            how the package's `supports_label_time` reads it); `None` gives it one time only.
        num_train_timesteps (`int`, defaults to 1000): the scale of the timesteps it is called with.
    """

    @register_to_config
    def __init__(
        self,
        data_dim: int = 2,
        label_dim: int = 1,
        num_blocks: int = 10,
        time_features: int = 8,
        class_embed_type: str | None = None,
        num_train_timesteps: int = 1000,
    ):
        super().__init__()
        if class_embed_type not in (None, "timestep"):
            raise ValueError(f"`class_embed_type` must be None or 'timestep', got {class_embed_type!r}.")
        if min(data_dim, label_dim, num_blocks, time_features) < 1 or time_features % 2:
            raise ValueError(
                f"Sizes must be positive and time_features even, got data_dim={data_dim}, label_dim={label_dim}, "
                f"num_blocks={num_blocks}, time_features={time_features}."
            )
        self.register_buffer("frequencies", torch.arange(1, time_features // 2 + 1) * math.pi, persistent=False)
        width = data_dim + label_dim + time_features * (2 if class_embed_type == "timestep" else 1)
        self.blocks = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.BatchNorm1d(width), torch.nn.Linear(width, width), torch.nn.ReLU())
            for _ in range(num_blocks)
        )
        self.final = torch.nn.Linear(width, data_dim + label_dim)

    def _features(self, level: torch.Tensor) -> torch.Tensor:
        angle = self.frequencies * level[:, None]
        return torch.cat([angle.sin(), angle.cos()], dim=1)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor, class_labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict the velocity.

        Args:
            sample (`torch.Tensor` of shape `(B, data_dim + label_dim)`): the joint state `[x_t | y_s]`.
            timestep (`torch.Tensor` of shape `(B,)` or a scalar): the image's noise level `(1 - t)` times
                `num_train_timesteps` (the package's convention); the features use the raw `t`, as the authors do.
            class_labels (`torch.Tensor` of shape `(B,)`, *optional*): the label's noise level `s` times
                `num_train_timesteps`; required with `class_embed_type="timestep"`, ignored otherwise.

        Returns:
            `torch.Tensor` of shape `(B, data_dim + label_dim)`: `[v_x | v_y]`.
        """
        batch = sample.shape[0]
        scale = self.config.num_train_timesteps
        t = (
            1.0
            - torch.as_tensor(timestep, device=sample.device, dtype=torch.float32).reshape(-1).expand(batch) / scale
        )
        hidden = [sample, self._features(t).to(sample.dtype)]
        if self.config.class_embed_type == "timestep":
            if class_labels is None:
                raise ValueError("This model takes the label's noise level; pass it as `class_labels`.")
            s = torch.as_tensor(class_labels, device=sample.device, dtype=torch.float32).reshape(-1).expand(batch)
            hidden.append(self._features(s / scale).to(sample.dtype))
        hidden = torch.cat(hidden, dim=1)
        for block in self.blocks:
            hidden = hidden + block(hidden)
        return self.final(hidden)


class ToyVelocityMLP(ModelMixin, ConfigMixin):
    """An MLP velocity model for vector data with the diffusers UNet calling convention.

    The input is the joint state `[x | y]`, the sinusoidal embedding of the image's noise level and, with
    `class_embed_type="timestep"`, that of the label's noise level, all concatenated.

    Args:
        data_dim (`int`, defaults to 2): channels of the data part `x`.
        label_dim (`int`, defaults to 1): channels of the label part `y`.
        hidden_dim (`int`, defaults to 256): width of the hidden layers.
        num_layers (`int`, defaults to 4): number of hidden layers.
        time_embed_dim (`int`, defaults to 32): size of each sinusoidal time embedding.
        class_embed_type (`str` or `None`, defaults to `None`): `"timestep"` gives the model the label's noise level
            as a second time input through `class_labels`, as diffusers' UNets do; `None` gives it one time only.
    """

    @register_to_config
    def __init__(
        self,
        data_dim: int = 2,
        label_dim: int = 1,
        hidden_dim: int = 256,
        num_layers: int = 4,
        time_embed_dim: int = 32,
        class_embed_type: str | None = None,
    ):
        super().__init__()
        if class_embed_type not in (None, "timestep"):
            raise ValueError(f"`class_embed_type` must be None or 'timestep', got {class_embed_type!r}.")
        if min(data_dim, label_dim, hidden_dim, num_layers, time_embed_dim) < 1:
            raise ValueError(
                f"All sizes must be positive, got data_dim={data_dim}, label_dim={label_dim}, "
                f"hidden_dim={hidden_dim}, num_layers={num_layers}, time_embed_dim={time_embed_dim}."
            )
        # Same projection as diffusers' UNets: timesteps live on the 0-1000 scale.
        self.time_proj = Timesteps(time_embed_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        num_times = 2 if class_embed_type == "timestep" else 1
        width = data_dim + label_dim + num_times * time_embed_dim
        layers = []
        for _ in range(num_layers):
            layers += [torch.nn.Linear(width, hidden_dim), torch.nn.SiLU()]
            width = hidden_dim
        layers.append(torch.nn.Linear(width, data_dim + label_dim))
        self.net = torch.nn.Sequential(*layers)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor, class_labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Predict the velocity.

        Args:
            sample (`torch.Tensor` of shape `(B, data_dim + label_dim)`): the joint state `[x_t | y_s]`.
            timestep (`torch.Tensor` of shape `(B,)` or a scalar): the image's noise level times 1000.
            class_labels (`torch.Tensor` of shape `(B,)`, *optional*): the label's noise level times 1000; required
                when `class_embed_type="timestep"`, ignored otherwise.

        Returns:
            `torch.Tensor` of shape `(B, data_dim + label_dim)`: `[v_x | v_y]`.
        """
        expected = self.config.data_dim + self.config.label_dim
        if sample.ndim != 2 or sample.shape[1] != expected:
            raise ValueError(f"`sample` must have shape (B, {expected}), got {tuple(sample.shape)}.")
        batch = sample.shape[0]
        times = [torch.as_tensor(timestep, device=sample.device, dtype=torch.float32).reshape(-1).expand(batch)]
        if self.config.class_embed_type == "timestep":
            if class_labels is None:
                raise ValueError("This model takes the label's noise level; pass it as `class_labels`.")
            times.append(
                torch.as_tensor(class_labels, device=sample.device, dtype=torch.float32).reshape(-1).expand(batch)
            )
        embeddings = [self.time_proj(t).to(sample.dtype) for t in times]
        return self.net(torch.cat([sample, *embeddings], dim=1))


def make_authors_spirals(
    size: int, noise: float = 0.1, separation: float = 0.5, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' two spirals: `size // 2` points per arm at fixed positions along it, plus Gaussian noise.

    Arm A is `r (cos theta, sin theta)` with `theta = sqrt(linspace(0, 4 pi, n))` and `r = linspace(0, 1, n)`; arm B
    is arm A rotated by pi and shifted by `(separation, 0)`. Every call draws only new noise, as each of the notebook's
    training batches does.

    Returns:
        `(points, labels)`: `points` of shape `(2 * (size // 2), 2)`, `labels` of the same length with class indices
        0 (A) and 1 (B), arm A first.
    """
    per_arm = size // 2
    if per_arm < 1:
        raise ValueError(f"`size` must be at least 2, got {size}.")
    theta = torch.linspace(0, 4 * math.pi, per_arm).sqrt()
    radius = torch.linspace(0, 1, per_arm)
    arm = torch.stack([radius * theta.cos(), radius * theta.sin()], dim=1)
    points = torch.cat([arm, -arm + torch.tensor([separation, 0.0])])
    points = points + noise * torch.randn(points.shape, generator=generator)
    labels = torch.cat([torch.zeros(per_arm, dtype=torch.long), torch.ones(per_arm, dtype=torch.long)])
    return points, labels


def make_two_spirals(
    num_per_class: int, noise: float = 0.03, turns: float = 1.5, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved spirals (class A and class B = A rotated by 180 degrees).

    Args:
        num_per_class (`int`): points per class.
        noise (`float`, defaults to 0.03): standard deviation of the Gaussian jitter added to every point.
        turns (`float`, defaults to 1.5): turns of each arm.
        generator: for reproducible data.

    Returns:
        `(points, labels)`: `points` of shape `(2 * num_per_class, 2)` in about [-1, 1]^2, `labels` of shape
        `(2 * num_per_class,)` with class indices 0 (A) and 1 (B), shuffled.
    """
    if num_per_class < 1:
        raise ValueError(f"`num_per_class` must be positive, got {num_per_class}.")
    max_angle = 2 * math.pi * turns
    min_angle = math.pi / 2  # keeps the two arms apart at the centre, where they would otherwise meet
    # sqrt makes the density roughly uniform along the arm, whose length grows with the square of the angle.
    angle = min_angle + (max_angle - min_angle) * torch.rand(num_per_class, generator=generator).sqrt()
    radius = angle / max_angle
    arm = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    points = torch.cat([arm, -arm]) + noise * torch.randn(2 * num_per_class, 2, generator=generator)
    labels = torch.cat([torch.zeros(num_per_class, dtype=torch.long), torch.ones(num_per_class, dtype=torch.long)])
    order = torch.randperm(2 * num_per_class, generator=generator)
    return points[order], labels[order]


class SpiralData:
    """Where training batches and evaluation points come from in each setting.

    `"authors"`: a fresh draw of `make_authors_spirals` for every batch (the notebook's 10,000 a step) and for the
    held-out set. `"project"`: batches sampled from a fixed pool of `num_train_points` from `make_two_spirals`.
    """

    def __init__(self, kind: str, args: argparse.Namespace, generator: torch.Generator):
        self.kind, self.args, self.generator = kind, args, generator
        if kind == "project":
            self.pool = make_two_spirals(args.num_train_points // 2, turns=args.turns, generator=generator)

    def batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "authors":
            return make_authors_spirals(batch_size, generator=self.generator)
        index = torch.randint(len(self.pool[0]), (batch_size,), generator=self.generator)
        return self.pool[0][index], self.pool[1][index]

    def held_out(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.kind == "authors":
            return make_authors_spirals(size, generator=self.generator)
        return make_two_spirals(size // 2, turns=self.args.turns, generator=self.generator)


def make_model(config_name: str, args: argparse.Namespace, label_dim: int) -> torch.nn.Module:
    class_embed_type = "timestep" if CONFIGS[config_name]["label_time_input"] else None
    if args.model == "authors":
        return AuthorsToyMLP(
            data_dim=DATA_DIM, label_dim=label_dim, num_blocks=args.num_blocks, class_embed_type=class_embed_type
        )
    return ToyVelocityMLP(
        data_dim=DATA_DIM,
        label_dim=label_dim,
        hidden_dim=args.hidden_dim,
        num_layers=args.num_layers,
        class_embed_type=class_embed_type,
    )


def train(
    config_name: str, data: SpiralData, codec: LabelCodec, args: argparse.Namespace, seed: int
) -> tuple[torch.nn.Module, list[float]]:
    """Train one configuration of `CONFIGS` with the package's objective; returns the model (in eval mode, so
    BatchNorm uses its running statistics) and its loss curve."""
    torch.manual_seed(seed)
    model = make_model(config_name, args, codec.num_channels)
    objective = SymmFlowObjective(
        sigma_min=args.sigma_min,
        label_time=CONFIGS[config_name]["label_time"],
        diagonal_probability=0.5,
        image_loss_weight=args.image_loss_weight,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    lr_scheduler = get_scheduler(
        args.lr_schedule,
        optimizer,
        num_warmup_steps=args.num_train_steps // 50 if args.lr_schedule == "cosine" else 0,
        num_training_steps=args.num_train_steps,
    )
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    progress = tqdm(
        range(args.num_train_steps), desc=f"train {config_name} seed {seed}", disable=args.quick, leave=False
    )
    for _ in progress:
        points, labels = data.batch(args.batch_size)
        # Fresh dequantization noise every batch, so the model sees a continuous label distribution.
        code = dequantize(codec.encode(labels), beta=LABEL_DEQUANTIZATION_BETA, generator=generator)
        inputs = objective.prepare(points, code, generator=generator)
        velocity = predict_velocity(model, inputs.sample, inputs.timestep, inputs.label_timestep)
        loss = objective.loss(velocity, inputs.target, num_image_channels=DATA_DIM).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr_scheduler.step()
        losses.append(loss.item())
        progress.set_postfix(loss=f"{np.mean(losses[-100:]):.4f}", refresh=False)
    model.eval()
    return model, losses


@torch.no_grad()
def integrate(
    model: torch.nn.Module,
    scheduler: SymmFlowScheduler,
    sample: torch.Tensor,
    num_steps: int,
    direction: str,
    mode: str,
) -> torch.Tensor:
    """Run the package's scheduler from `sample` (`(B, 3)`) and return the final joint state (`(B, 3)`)."""
    scheduler.set_timesteps(num_steps, direction=direction, mode=mode)
    for timestep, label_timestep in zip(scheduler.timesteps, scheduler.label_timesteps):
        velocity = predict_velocity(model, sample, timestep, label_timestep)
        sample = scheduler.step(velocity, timestep, sample, num_image_channels=DATA_DIM).prev_sample
    return sample


def classify(
    model: torch.nn.Module,
    scheduler: SymmFlowScheduler,
    codec: LabelCodec,
    points: torch.Tensor,
    num_steps: int,
    mode: str,
    generator: torch.Generator,
) -> torch.Tensor:
    """Reverse process (paper eq. 8): from (point, label noise) at t=1 to the label at t=0; returns class ids `(B,)`."""
    label_noise = torch.randn(len(points), codec.num_channels, generator=generator)
    final = integrate(model, scheduler, torch.cat([points, label_noise], dim=1), num_steps, "reverse", mode)
    return codec.decode(final[:, DATA_DIM:]).labels


def generate(
    model: torch.nn.Module,
    scheduler: SymmFlowScheduler,
    codec: LabelCodec,
    class_ids: torch.Tensor,
    num_steps: int,
    mode: str,
    generator: torch.Generator,
    dequantized: bool = False,
) -> torch.Tensor:
    """Forward process: from (image noise, class code) at t=0 to a point at t=1; returns points `(B, 2)`.

    `dequantized` starts from the code plus its dequantization noise, as the authors' notebook does, rather than from
    the exact code."""
    image_noise = torch.randn(len(class_ids), DATA_DIM, generator=generator)
    code = codec.encode(class_ids)
    if dequantized:
        code = dequantize(code, beta=LABEL_DEQUANTIZATION_BETA, generator=generator)
    final = integrate(model, scheduler, torch.cat([image_noise, code], dim=1), num_steps, "forward", mode)
    return final[:, :DATA_DIM]


def summarize(per_seed: list[dict]) -> dict:
    """`{num_steps: (mean, min, max)}` over seeds of `{num_steps: percent}` dictionaries."""
    return {
        n: (float(np.mean([r[n] for r in per_seed])), min(r[n] for r in per_seed), max(r[n] for r in per_seed))
        for n in per_seed[0]
    }


def format_tables(results: dict) -> str:
    """Markdown tables of classification accuracy and generation class consistency (percent, mean [min, max])."""
    generation_steps = results["generation_steps"]

    def header(steps) -> str:
        return "| | " + " | ".join(str(n) for n in steps) + " |\n|---|" + "---:|" * len(steps) + "\n"

    def row(name: str, values: dict, steps) -> str:
        cells = []
        for n in steps:
            value = values[n]
            if isinstance(value, (tuple, list)):
                mean, low, high = value
                cells.append(f"{mean:.1f}" + (f" [{low:.1f}, {high:.1f}]" if high > low else ""))
            else:
                cells.append(f"{value:.1f}")
        return f"| {name} | " + " | ".join(cells) + " |\n"

    seeds = results["seeds"]
    spread = f"mean over seeds {seeds} [min, max]" if len(seeds) > 1 else f"seed {seeds[0]}"
    text = (
        f"Classification accuracy (%) on held-out points, reverse process (t: 1 -> 0), Euler steps ({spread}):\n\n"
        + header(STEP_COUNTS)
    )
    text += row("Paper, Table 1 (joint)", PAPER_TABLE_1, STEP_COUNTS)
    for key, accuracy in results["classification"].items():
        config, mode = key.split("/")
        text += row(f"Ours, {config} model, {mode}", accuracy, STEP_COUNTS)
    text += (
        "\nGeneration class consistency (%): forward process (t: 0 -> 1) from each class code; a generated point counts "
        f"as right when a {results['knn_neighbors']}-NN rule on real points gives it the class it was "
        f"generated for ({spread}):\n\n" + header(generation_steps)
    )
    for key, consistency in results["generation"].items():
        config, mode = key.split("/")
        text += row(f"Ours, {config} model, {mode}", consistency, generation_steps)
    text += (
        f"\nSanity check: the {results['knn_neighbors']}-NN rule classifies held-out real points with "
        f"{results['knn_test_accuracy']:.1f}% accuracy (the ceiling of the consistency score).\n"
    )
    return text


def save_figure(samples: dict, points: torch.Tensor, labels: torch.Tensor, path: str) -> None:
    """Real points next to generated samples, coloured by the class they were generated for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("real points", points, labels)] + [
        (title, generated, class_ids) for title, (generated, class_ids) in samples.items()
    ]
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 4.2 * rows), squeeze=False)
    limits = torch.cat([points.min(0).values, points.max(0).values]).abs().max().item() + 0.2
    for axis in axes.flat[len(panels) :]:
        axis.axis("off")
    for axis, (title, xy, ids) in zip(axes.flat, panels):
        for class_id, color in ((0, "tab:blue"), (1, "tab:orange")):
            chosen = xy[ids == class_id].numpy()
            axis.scatter(
                chosen[:, 0], chosen[:, 1], s=2, alpha=0.4, color=color, label=f"class {CLASS_NAMES[class_id]}"
            )
        axis.set_title(title, fontsize=10)
        axis.set_xlim(-limits, limits)
        axis.set_ylim(-limits, limits)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0][0].legend(loc="lower left", markerscale=4, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def evaluate_seed(
    model: torch.nn.Module,
    config_name: str,
    codec: LabelCodec,
    test_points: torch.Tensor,
    test_labels: torch.Tensor,
    knn: KNeighborsClassifier,
    args: argparse.Namespace,
    seed: int,
) -> tuple[dict, dict, dict]:
    """Classification accuracy and generation consistency of one trained model in each of its modes; returns
    `(accuracy, consistency, samples)`, each keyed by `"<config>/<mode>"`, `samples` holding the plotted steps."""
    scheduler = SymmFlowScheduler()
    generation_ids = torch.arange(args.num_generated) % 2
    accuracy, consistency, samples = {}, {}, {}
    for mode in CONFIGS[config_name]["modes"]:
        if mode not in args.modes:
            continue
        key = f"{config_name}/{mode}"
        accuracy[key], consistency[key] = {}, {}
        for num_steps in STEP_COUNTS:
            # The same noise for every step count, so rows differ only in the number of steps.
            generator = torch.Generator().manual_seed(seed + 1)
            predicted = classify(model, scheduler, codec, test_points, num_steps, mode, generator)
            accuracy[key][num_steps] = 100.0 * (predicted == test_labels).float().mean().item()
        for num_steps in sorted(set(STEP_COUNTS) | {args.long_steps}):
            generator = torch.Generator().manual_seed(seed + 2)
            generated = generate(
                model,
                scheduler,
                codec,
                generation_ids,
                num_steps,
                mode,
                generator,
                dequantized=args.generation_label == "dequantized",
            )
            landed = torch.from_numpy(knn.predict(generated.numpy()))
            consistency[key][num_steps] = 100.0 * (landed == generation_ids).float().mean().item()
            if num_steps in (args.figure_steps, args.long_steps):
                samples[f"{config_name}, {mode} ({num_steps} steps)"] = (generated, generation_ids)
    return accuracy, consistency, samples


def run(args: argparse.Namespace) -> dict:
    """Train the chosen configurations for every seed, evaluate them, write the tables and figure.

    Returns:
        `dict` with `"classification"` and `"generation"` (each mapping `"<config>/<mode>"` to `{num_steps: (mean,
        min, max)}` over seeds), `"per_seed"` (the same per seed), `"knn_neighbors"`, `"knn_test_accuracy"`
        (percent), `"final_loss"` (per config and seed), `"seconds"`, `"table"` and `"figure"`.
    """
    start = time.perf_counter()
    for name in args.configs:
        if name not in CONFIGS:
            raise ValueError(f"Unknown configuration {name!r}; choose from {tuple(CONFIGS)}.")
    codec = LabelCodec(task="classification", encoding="scalar", num_classes=2)
    # The judge of generation: k-NN on real points drawn independently of every seed's training data.
    judge_data = SpiralData(args.data, args, torch.Generator().manual_seed(10_000))
    judge_points, judge_labels = judge_data.held_out(args.num_train_points)
    knn = KNeighborsClassifier(n_neighbors=args.knn_neighbors).fit(judge_points.numpy(), judge_labels.numpy())
    check_points, check_labels = judge_data.held_out(args.num_test_points)
    results = {
        "setting": args.setting,
        "seeds": list(args.seeds),
        "generation_steps": sorted(set(STEP_COUNTS) | {args.long_steps}),
        "knn_neighbors": args.knn_neighbors,
        "knn_test_accuracy": 100.0 * knn.score(check_points.numpy(), check_labels.numpy()),
        "final_loss": {},
        "per_seed": {},
    }
    per_seed_accuracy, per_seed_consistency, figure_samples = {}, {}, {}
    for seed in args.seeds:
        data = SpiralData(args.data, args, torch.Generator().manual_seed(seed))
        test_points, test_labels = data.held_out(args.num_test_points)
        for name in args.configs:
            model, losses = train(name, data, codec, args, seed)
            results["final_loss"][f"{name}/seed{seed}"] = float(np.mean(losses[-100:]))
            accuracy, consistency, samples = evaluate_seed(
                model, name, codec, test_points, test_labels, knn, args, seed
            )
            results["per_seed"][f"seed{seed}/{name}"] = {"classification": accuracy, "generation": consistency}
            for key in accuracy:
                per_seed_accuracy.setdefault(key, []).append(accuracy[key])
                per_seed_consistency.setdefault(key, []).append(consistency[key])
            if seed == args.seeds[0]:
                figure_samples.update(samples)
    results["classification"] = {key: summarize(values) for key, values in per_seed_accuracy.items()}
    results["generation"] = {key: summarize(values) for key, values in per_seed_consistency.items()}
    results["table"] = format_tables(results)
    os.makedirs(args.output_dir, exist_ok=True)
    if figure_samples:
        figure_path = os.path.join(args.output_dir, "toy_two_spirals.png")
        save_figure(figure_samples, check_points, check_labels, figure_path)
        results["figure"] = figure_path
    results["seconds"] = time.perf_counter() - start
    command = "HF_HUB_OFFLINE=1 PYTHONPATH=src python examples/toy_two_spirals.py " + " ".join(args.argv)
    if args.model == "authors":
        model_text = f"the authors' MLP ({args.num_blocks} residual blocks)"
    else:
        model_text = f"a {args.num_layers}x{args.hidden_dim} MLP"
    with open(os.path.join(args.output_dir, "toy_results.md"), "w") as handle:
        handle.write(
            "# SymmFlow on two spirals (paper: Toy Example, Table 1)\n\n"
            f"Produced by `{command.strip()}` in {results['seconds']:.0f} s (setting {args.setting!r}: "
            f"{args.num_train_steps} training steps per model, batch {args.batch_size}, {model_text}, "
            f"seeds {list(args.seeds)}).\n\n" + results["table"]
        )
    with open(os.path.join(args.output_dir, "toy_results.json"), "w") as handle:
        compact = {key: value for key, value in results.items() if key not in ("table",)}
        json.dump({"command": command.strip(), **compact}, handle, indent=1)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--setting",
        type=str,
        default="authors",
        choices=sorted(SETTINGS),
        help="'authors' (their notebook: data, model, optimiser, batch, steps) or 'project' (this project's earlier "
        "toy). Flags below override single values of it.",
    )
    parser.add_argument(
        "--model",
        type=str,
        default=None,
        choices=["authors", "project"],
        help="The MLP: the authors' residual BatchNorm blocks or the project's SiLU MLP.",
    )
    parser.add_argument(
        "--data",
        type=str,
        default=None,
        choices=["authors", "project"],
        help="The spirals: the authors' (fresh batches) or the project's (a fixed pool, --turns).",
    )
    parser.add_argument(
        "--generation_label",
        type=str,
        default=None,
        choices=["dequantized", "code"],
        help="Where generation starts on the label side: the dequantized code (the notebook's) or the "
        "exact class code.",
    )
    parser.add_argument("--num_train_steps", type=int, default=None, help="Optimizer steps per model.")
    parser.add_argument("--batch_size", type=int, default=None)
    parser.add_argument("--num_blocks", type=int, default=None, help="Residual blocks of the authors' MLP.")
    parser.add_argument("--hidden_dim", type=int, default=None, help="Width of the project's MLP.")
    parser.add_argument("--num_layers", type=int, default=None, help="Hidden layers of the project's MLP.")
    parser.add_argument("--learning_rate", type=float, default=None)
    parser.add_argument("--lr_schedule", type=str, default=None, choices=["constant", "cosine"])
    parser.add_argument("--sigma_min", type=float, default=None, help="Minimum noise of the paths (authors' toy: 0).")
    parser.add_argument("--image_loss_weight", type=float, default=0.9, help="`w` of the loss (the authors' 0.9).")
    parser.add_argument("--turns", type=float, default=1.5, help="Project data: turns of each spiral.")
    parser.add_argument(
        "--num_train_points",
        type=int,
        default=10000,
        help="Project data: the training pool; both: the k-NN judge's real points.",
    )
    parser.add_argument("--num_test_points", type=int, default=10000, help="Held-out points (the notebook's 10,000).")
    parser.add_argument("--num_generated", type=int, default=2000, help="Points generated per step count and mode.")
    parser.add_argument("--knn_neighbors", type=int, default=5)
    parser.add_argument("--figure_steps", type=int, default=20, help="Steps of the plotted samples (paper: 20).")
    parser.add_argument(
        "--long_steps",
        type=int,
        default=1000,
        help="Also generate with this many steps (the notebook's 1,000) and plot them.",
    )
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--modes", nargs="+", default=list(SAMPLING_MODES), choices=list(SAMPLING_MODES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--output_dir", type=str, default="docs")
    parser.add_argument("--quick", action="store_true", help="A reduced run for tests: fewer points, no progress bar.")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    for key, value in SETTINGS[args.setting].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.quick:
        args.num_train_points = min(args.num_train_points, 4000)
        args.num_test_points = min(args.num_test_points, 1000)
        args.num_generated = min(args.num_generated, 400)
    for flag in (
        "num_train_steps",
        "batch_size",
        "num_train_points",
        "num_test_points",
        "num_generated",
        "long_steps",
    ):
        check_positive_int(f"--{flag}", getattr(args, flag))
    if args.model == "authors":
        check_positive_int("--num_blocks", args.num_blocks)
    else:
        check_positive_int("--hidden_dim", args.hidden_dim)
        check_positive_int("--num_layers", args.num_layers)
    if args.figure_steps not in STEP_COUNTS:
        raise ValueError(f"--figure_steps must be one of {STEP_COUNTS}, got {args.figure_steps}.")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    results = run(args)
    print(results["table"])
    print(
        f"Figure: {results.get('figure')}; table: {os.path.join(args.output_dir, 'toy_results.md')}; "
        f"{results['seconds']:.0f} s"
    )
    return results


if __name__ == "__main__":
    main()
