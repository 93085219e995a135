# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The paper's Toy Example and Table 1: SymmFlow on two interleaved spirals, in both sampling modes.

A small MLP sees the joint state ``[x | y]`` (a 2-D point and its 1-D class code) and predicts ``[v_x | v_y]``.
Class codes come from ``LabelCodec(task="classification", encoding="scalar", num_classes=2)`` (-1 / +1) and are
dequantized with ``beta=127.5`` (total width 1.0 on the [-1, 1] scale), so class A is uniform in [-1.5, -0.5] and
class B in [0.5, 1.5], as in the paper. Everything SymmFlow-specific (paths, targets, loss, Euler steps, label
codes) comes from the package; this file only adds the data, the MLP and the bookkeeping.

Two configurations are trained with the same budget:

* ``diagonal``: the paper's objective (the label's noise level equals the image time) and a model with one time
  input. It can only sample the paper's joint ODE.
* ``mixed``: half of the batches on the paper's diagonal, half with an independent label noise level, and a model
  that also receives the label's noise level (``class_embed_type="timestep"``). It can sample the joint ODE and the
  ``conditional`` mode, which holds the given side clean and integrates only the other one.

Evaluation:

* classification: integrate t: 1 -> 0 from (held-out point, label noise) with 1, 2, 5, 10, 20 and 50 Euler steps and
  decode the label with the codec (nearest class code), paper Table 1;
* generation class consistency: integrate t: 0 -> 1 from (image noise, class code) and check with a k-NN rule on the
  training points which spiral the generated point lands on.

Run (about a minute and a half on two CPU cores)::

    HF_HUB_OFFLINE=1 PYTHONPATH=src python examples/toy_two_spirals.py

It prints the tables, and writes ``toy_results.md`` and ``toy_two_spirals.png`` to ``--output_dir``.
"""

import argparse
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
# label_time: the objective's; class_embed_type: whether the model receives the label's noise level.
CONFIGS = {
    "diagonal": {"label_time": "diagonal", "class_embed_type": None, "modes": ("joint",)},
    "mixed": {"label_time": "mixed", "class_embed_type": "timestep", "modes": ("joint", "conditional")},
}
CLASS_NAMES = ("A", "B")


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
            times.append(torch.as_tensor(class_labels, device=sample.device, dtype=torch.float32).reshape(-1).expand(batch))
        embeddings = [self.time_proj(t).to(sample.dtype) for t in times]
        return self.net(torch.cat([sample, *embeddings], dim=1))


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


def train(
    config_name: str,
    points: torch.Tensor,
    labels: torch.Tensor,
    codec: LabelCodec,
    args: argparse.Namespace,
) -> tuple[ToyVelocityMLP, list[float]]:
    """Train one configuration of `CONFIGS` with the package's objective; returns the model and its loss curve."""
    config = CONFIGS[config_name]
    torch.manual_seed(args.seed)
    model = ToyVelocityMLP(
        data_dim=DATA_DIM,
        label_dim=codec.num_channels,
        hidden_dim=args.hidden_dim,
        num_layers=args.num_layers,
        class_embed_type=config["class_embed_type"],
    )
    objective = SymmFlowObjective(
        label_time=config["label_time"], diagonal_probability=0.5, image_loss_weight=args.image_loss_weight
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    lr_scheduler = get_scheduler(
        "cosine", optimizer, num_warmup_steps=args.num_train_steps // 50, num_training_steps=args.num_train_steps
    )
    generator = torch.Generator().manual_seed(args.seed)
    losses = []
    model.train()
    progress = tqdm(range(args.num_train_steps), desc=f"train {config_name}", disable=args.quick, leave=False)
    for _ in progress:
        index = torch.randint(len(points), (args.batch_size,), generator=generator)
        # Fresh dequantization noise every batch, so the model sees a continuous label distribution.
        code = dequantize(codec.encode(labels[index]), beta=LABEL_DEQUANTIZATION_BETA, generator=generator)
        inputs = objective.prepare(points[index], code, generator=generator)
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
    model: ToyVelocityMLP,
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
    model: ToyVelocityMLP,
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
    model: ToyVelocityMLP,
    scheduler: SymmFlowScheduler,
    codec: LabelCodec,
    class_ids: torch.Tensor,
    num_steps: int,
    mode: str,
    generator: torch.Generator,
) -> torch.Tensor:
    """Forward process: from (image noise, class code) at t=0 to a point at t=1; returns points `(B, 2)`."""
    image_noise = torch.randn(len(class_ids), DATA_DIM, generator=generator)
    final = integrate(model, scheduler, torch.cat([image_noise, codec.encode(class_ids)], dim=1), num_steps, "forward", mode)
    return final[:, :DATA_DIM]


def format_tables(results: dict) -> str:
    """Markdown tables of classification accuracy and generation class consistency (percent)."""
    header = "| | " + " | ".join(str(n) for n in STEP_COUNTS) + " |\n|---|" + "---:|" * len(STEP_COUNTS) + "\n"

    def row(name: str, values: dict) -> str:
        return f"| {name} | " + " | ".join(f"{values[n]:.1f}" for n in STEP_COUNTS) + " |\n"

    text = "Classification accuracy (%) on held-out points, reverse process (t: 1 -> 0), Euler steps:\n\n" + header
    text += row("Paper, Table 1 (joint)", PAPER_TABLE_1)
    for key, accuracy in results["classification"].items():
        config, mode = key.split("/")
        text += row(f"Ours, {config} model, {mode}", accuracy)
    text += (
        "\nGeneration class consistency (%): forward process (t: 0 -> 1) from each class code; a generated point counts "
        f"as right when a {results['knn_neighbors']}-NN rule on the training points gives it the class it was "
        "generated for:\n\n" + header
    )
    for key, consistency in results["generation"].items():
        config, mode = key.split("/")
        text += row(f"Ours, {config} model, {mode}", consistency)
    text += (
        f"\nSanity check: the {results['knn_neighbors']}-NN rule classifies the held-out real points with "
        f"{results['knn_test_accuracy']:.1f}% accuracy.\n"
    )
    return text


def save_figure(samples: dict, points: torch.Tensor, labels: torch.Tensor, num_steps: int, path: str) -> None:
    """Training data next to generated samples, coloured by the class they were generated for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("training data", points, labels)] + [
        (f"{key.replace('/', ', ')} ({num_steps} steps)", generated, class_ids)
        for key, (generated, class_ids) in samples.items()
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.2), squeeze=False)
    for axis, (title, xy, ids) in zip(axes[0], panels):
        for class_id, color in ((0, "tab:blue"), (1, "tab:orange")):
            chosen = xy[ids == class_id].numpy()
            axis.scatter(chosen[:, 0], chosen[:, 1], s=2, alpha=0.5, color=color, label=f"class {CLASS_NAMES[class_id]}")
        axis.set_title(title, fontsize=10)
        axis.set_xlim(-1.6, 1.6)
        axis.set_ylim(-1.6, 1.6)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0][0].legend(loc="lower left", markerscale=4, fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run(args: argparse.Namespace) -> dict:
    """Train the chosen configurations, evaluate them, write the table and figure; returns the results.

    Returns:
        `dict` with `"classification"` and `"generation"` (each mapping `"<config>/<mode>"` to `{num_steps: percent}`),
        `"knn_neighbors"`, `"knn_test_accuracy"` (percent), `"final_loss"` (per config), `"seconds"` and `"table"`.
    """
    start = time.perf_counter()
    for name in args.configs:
        if name not in CONFIGS:
            raise ValueError(f"Unknown configuration {name!r}; choose from {tuple(CONFIGS)}.")
    step_counts = STEP_COUNTS
    codec = LabelCodec(task="classification", encoding="scalar", num_classes=2)
    data_generator = torch.Generator().manual_seed(args.seed)
    train_points, train_labels = make_two_spirals(args.num_train_points // 2, turns=args.turns, generator=data_generator)
    test_points, test_labels = make_two_spirals(args.num_test_points // 2, turns=args.turns, generator=data_generator)

    knn = KNeighborsClassifier(n_neighbors=args.knn_neighbors).fit(train_points.numpy(), train_labels.numpy())
    results = {
        "classification": {},
        "generation": {},
        "knn_neighbors": args.knn_neighbors,
        "knn_test_accuracy": 100.0 * knn.score(test_points.numpy(), test_labels.numpy()),
        "final_loss": {},
    }
    scheduler = SymmFlowScheduler()
    generation_ids = torch.arange(args.num_generated) % 2
    figure_samples = {}
    for name in args.configs:
        model, losses = train(name, train_points, train_labels, codec, args)
        results["final_loss"][name] = float(np.mean(losses[-100:]))
        for mode in CONFIGS[name]["modes"]:
            if mode not in args.modes:
                continue
            key = f"{name}/{mode}"
            # The same noise for every step count, so rows differ only in the number of steps.
            accuracy, consistency = {}, {}
            for num_steps in step_counts:
                generator = torch.Generator().manual_seed(args.seed + 1)
                predicted = classify(model, scheduler, codec, test_points, num_steps, mode, generator)
                accuracy[num_steps] = 100.0 * (predicted == test_labels).float().mean().item()
                generated = generate(model, scheduler, codec, generation_ids, num_steps, mode, generator)
                landed = torch.from_numpy(knn.predict(generated.numpy()))
                consistency[num_steps] = 100.0 * (landed == generation_ids).float().mean().item()
                if num_steps == args.figure_steps:
                    figure_samples[key] = (generated, generation_ids)
            results["classification"][key] = accuracy
            results["generation"][key] = consistency

    results["table"] = format_tables(results)
    os.makedirs(args.output_dir, exist_ok=True)
    if figure_samples:
        figure_path = os.path.join(args.output_dir, "toy_two_spirals.png")
        save_figure(figure_samples, train_points, train_labels, args.figure_steps, figure_path)
        results["figure"] = figure_path
    results["seconds"] = time.perf_counter() - start
    command = "HF_HUB_OFFLINE=1 PYTHONPATH=src python examples/toy_two_spirals.py " + " ".join(args.argv)
    with open(os.path.join(args.output_dir, "toy_results.md"), "w") as handle:
        handle.write(
            "# SymmFlow on two spirals (paper: Toy Example, Table 1)\n\n"
            f"Produced by `{command.strip()}` in {results['seconds']:.0f} s "
            f"({args.num_train_steps} training steps per model, batch {args.batch_size}, "
            f"{args.num_layers}x{args.hidden_dim} MLP, seed {args.seed}).\n\n"
            + results["table"]
        )
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num_train_steps", type=int, default=6000, help="Optimizer steps per configuration.")
    parser.add_argument("--batch_size", type=int, default=512)
    parser.add_argument("--hidden_dim", type=int, default=256)
    parser.add_argument("--num_layers", type=int, default=4)
    parser.add_argument("--learning_rate", type=float, default=2e-3)
    parser.add_argument(
        "--image_loss_weight", type=float, default=0.9, help="`w` of the loss (the authors' default 0.9)."
    )
    parser.add_argument("--turns", type=float, default=1.5, help="Turns of each spiral (fewer is easier to learn).")
    parser.add_argument("--num_train_points", type=int, default=10000)
    parser.add_argument("--num_test_points", type=int, default=2000)
    parser.add_argument("--num_generated", type=int, default=2000, help="Points generated per step count and mode.")
    parser.add_argument("--knn_neighbors", type=int, default=5)
    parser.add_argument("--figure_steps", type=int, default=20, help="Steps of the plotted samples (paper: 20).")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--modes", nargs="+", default=list(SAMPLING_MODES), choices=list(SAMPLING_MODES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", type=str, default="docs")
    parser.add_argument(
        "--quick", action="store_true", help="A reduced run for tests: fewer points, no progress bar."
    )
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.num_train_points = min(args.num_train_points, 4000)
        args.num_test_points = min(args.num_test_points, 1000)
        args.num_generated = min(args.num_generated, 400)
    for flag in ("num_train_steps", "batch_size", "hidden_dim", "num_layers", "num_train_points", "num_test_points"):
        check_positive_int(f"--{flag}", getattr(args, flag))
    if args.figure_steps not in STEP_COUNTS:
        raise ValueError(f"--figure_steps must be one of {STEP_COUNTS}, got {args.figure_steps}.")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    results = run(args)
    print(results["table"])
    print(f"Figure: {results.get('figure')}; table: {os.path.join(args.output_dir, 'toy_results.md')}; "
          f"{results['seconds']:.0f} s")
    return results


if __name__ == "__main__":
    main()
