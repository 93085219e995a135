"""Where does the one-step readout's learning speed go? A minimal training loop with one knob per hypothesis.

Same bundled digits, same `small` UNet, same batch, learning rate and steps for every variant; the one-step readout
(image clean, label pure noise, one Euler step) is scored on the 500 held-out digits every `--eval_every` steps, so
each run is a learning curve. Variants (flags):

* `--mode discriminative`: the same UNet with the image as its only input and K outputs, per-pixel cross-entropy
  (segmentation) or spatial-mean logits (classification). The baseline.
* `--mode symmflow` with
  - `--label_param velocity` (the paper's target), `skip` (the same velocity loss with the velocity written as
    `y_s - out`, so the head's target at the readout is the clean code), `sample` (the label head predicts the
    clean code, MSE) or
    `logits` (the label head predicts class logits, cross-entropy; clean code = 2 softmax - 1) or, for
    classification, `logits_pooled` (cross-entropy on the spatial mean of the logits, the discriminative head);
  - `--label_input raw` (the paper's) or `gated` (the label channels enter the UNet scaled by `1 - s`, so at the
    readout's `s = 1` the model sees the clean image and zeros, the discriminative model's input);
  - `--image_loss_weight`, `--label_time`, `--lr`, `--batch`, `--steps`.

    OMP_NUM_THREADS=1 python examples/research_projects/readout_study/readout_study.py --task segmentation \
        --mode symmflow --label_param sample --label_input gated --steps 150 --out result.json
"""

import argparse
import copy
import json
import os
import time

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel

from diffusers_symmflow.commands.data_args import add_data_arguments, data_config_from_args
from diffusers_symmflow.labels import LabelCodec, dequantize
from diffusers_symmflow.models import symmflow_unet2d_config
from diffusers_symmflow.objective import SymmFlowObjective


def confusion(pred: torch.Tensor, true: torch.Tensor, k: int) -> torch.Tensor:
    return torch.bincount(true.flatten() * k + pred.flatten(), minlength=k * k).reshape(k, k)


def scores(matrix: torch.Tensor, task: str) -> dict:
    matrix = matrix.double()
    accuracy = float(matrix.diag().sum() / matrix.sum())
    if task == "classification":
        return {"accuracy": round(100 * accuracy, 2)}
    union = matrix.sum(0) + matrix.sum(1) - matrix.diag()
    present = union > 0
    iou = matrix.diag()[present] / union[present]
    return {"mean_iou": round(float(iou.mean()), 4), "pixel_accuracy": round(100 * accuracy, 2)}


def load_tensors(args: argparse.Namespace) -> dict:
    """The whole train / validation split as tensors (images in [-1, 1]), from `--data_cache` when it exists."""
    if args.data_cache and os.path.exists(args.data_cache):
        return torch.load(args.data_cache)
    from diffusers_symmflow.data import collate_fn, load_symmflow_data

    data = load_symmflow_data(data_config_from_args(args))
    train = collate_fn([data.train[i] for i in range(len(data.train))])
    validation = collate_fn([data.validation[i] for i in range(len(data.validation))])
    tensors = {
        "task": data.task,
        "num_classes": data.num_classes,
        "train_x": train["pixel_values"].half(),
        "train_y": train["labels"].to(torch.int16),
        "val_x": validation["pixel_values"].half(),
        "val_y": validation["labels"].to(torch.int16),
    }
    if args.data_cache:
        torch.save(tensors, args.data_cache)
    return tensors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["discriminative", "symmflow"], default="symmflow")
    parser.add_argument(
        "--label_param", choices=["velocity", "skip", "sample", "logits", "logits_pooled"], default="velocity"
    )
    parser.add_argument("--label_input", choices=["raw", "gated"], default="raw")
    parser.add_argument("--image_loss_weight", type=float, default=0.5)
    parser.add_argument("--label_time", default="diagonal")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--eval_every", type=int, default=50)
    parser.add_argument(
        "--eval_steps",
        type=str,
        default=None,
        help="Comma-separated steps to score at (a learning curve); overrides --eval_every.",
    )
    parser.add_argument(
        "--label_loss_scale",
        type=float,
        default=1.0,
        help="Multiplies the label loss before the w / (1 - w) weighting (K: a sum over the label's "
        "K channels instead of a mean).",
    )
    parser.add_argument("--time_sampling", default="uniform", choices=["uniform", "logit_normal"])
    parser.add_argument("--logit_mean", type=float, default=0.0)
    parser.add_argument(
        "--readout_probability",
        type=float,
        default=0.0,
        help="Share of each batch placed at the readout's point (t = s = 1); see SymmFlowObjective.",
    )
    parser.add_argument(
        "--readout_image_loss",
        action="store_true",
        help="Count the readout-point samples in the image loss too (SymmFlowObjective).",
    )
    parser.add_argument(
        "--save_step", type=int, default=None, help="Step at which --save_pipeline saves (default: last)."
    )
    parser.add_argument(
        "--score_generation",
        type=int,
        default=0,
        help="After training (or at --save_step), generate this many images from the held-out labels "
        "(25 Euler steps, joint) and score them with the package's evaluate_generation (FID against "
        "the held-out digits, class consistency by a classifier trained on the training digits), "
        "as evaluate_symmflow.py does.",
    )
    parser.add_argument(
        "--generation_modes",
        default="joint",
        help="Comma-separated sampling modes --score_generation scores (same judge, labels and noise); "
        "the first one's scores keep the plain keys, every mode's are under `generation`.",
    )
    parser.add_argument(
        "--save_pipeline",
        default=None,
        help="Save the final (EMA, if used) model as a SymmFlowPipeline here, for evaluate_symmflow.py; "
        "the `logits` label head with `raw` or `gated` input, or the paper's `velocity` head.",
    )
    parser.add_argument("--weight_decay", type=float, default=0.0)
    parser.add_argument(
        "--ema_decay",
        type=float,
        default=0.0,
        help="Score an EMA of the weights (diffusers' warm-up: min(decay, (1 + n) / (10 + n))); 0: off.",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--data_cache",
        default=None,
        help="A .pt file of the collated train / validation tensors: read if present, else written. "
        "Lets the study run where the data loaders' packages are not installed.",
    )
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    add_data_arguments(parser)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    data = load_tensors(args)
    k = data["num_classes"]
    codec = LabelCodec(task=data["task"], encoding="onehot", num_classes=k)
    segmentation = data["task"] == "segmentation"
    train_x, train_y = data["train_x"].to(device).float(), data["train_y"].to(device).long()
    val_x, val_y = data["val_x"].to(device).float(), data["val_y"].to(device).long()
    c_x = train_x.shape[1]
    resolution = train_x.shape[-1]
    objective = SymmFlowObjective(
        image_loss_weight=args.image_loss_weight,
        label_time=args.label_time,
        time_sampling=args.time_sampling,
        logit_mean=args.logit_mean,
        readout_probability=args.readout_probability,
        readout_image_loss=args.readout_image_loss,
    )
    if args.mode == "discriminative":
        config = symmflow_unet2d_config(c_x, k, resolution, label_time=False, preset=args.preset)
        config.update(in_channels=c_x, out_channels=k)
    else:
        config = symmflow_unet2d_config(
            c_x, codec.num_channels, resolution, label_time=objective.needs_label_time, preset=args.preset
        )
    model = UNet2DModel(**config).to(device)
    ema = copy.deepcopy(model).requires_grad_(False) if args.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    order_generator = torch.Generator().manual_seed(args.seed)
    generator = torch.Generator(device).manual_seed(args.seed)
    eval_steps = (
        sorted({int(step) for step in args.eval_steps.split(",")})
        if args.eval_steps
        else list(range(args.eval_every, args.steps + 1, args.eval_every))
    )
    if args.steps not in eval_steps:
        eval_steps.append(args.steps)

    def forward(x, y_s, t, s, net=model):
        if args.label_input == "gated":
            y_s = y_s * (1 - s).view(-1, 1, 1, 1)
        kwargs = {"class_labels": s * 1000} if config["class_embed_type"] else {}
        return net(torch.cat([x, y_s], 1), (1 - t) * 1000, **kwargs).sample

    def readout(images, net):
        """Class ids from one Euler step at t = 1 (image clean, label noise)."""
        if args.mode == "discriminative":
            logits = net(images, torch.zeros(images.shape[0], device=device)).sample
        else:
            noise = torch.randn(
                (images.shape[0], codec.num_channels, *images.shape[-2:]), generator=generator, device=device
            )
            ones = torch.ones(images.shape[0], device=device)
            out = forward(images, noise, ones, ones, net)[:, c_x:]
            if args.label_param == "velocity":
                logits = noise - out
            elif args.label_param == "skip":
                logits = out  # v = y_s - out, so one Euler step from s = 1 lands on out
            else:
                logits = out
        if not segmentation:
            logits = logits.mean(dim=(2, 3))
        return logits.argmax(1)

    def evaluate():
        net = ema if ema is not None else model
        net.eval()
        matrix = torch.zeros(k, k, dtype=torch.long, device=device)
        with torch.no_grad():
            for i in range(0, len(val_y), 100):
                pred = readout(val_x[i : i + 100], net)
                matrix += confusion(pred, val_y[i : i + 100], k)
        model.train()
        return scores(matrix.cpu(), data["task"])

    def batches():
        """Shuffled batches of the preloaded training tensors, dropping the last partial one (an epoch each)."""
        while True:
            order = torch.randperm(len(train_y), generator=order_generator).to(device)
            for i in range(0, len(order) - args.batch + 1, args.batch):
                yield train_x[order[i : i + args.batch]], train_y[order[i : i + args.batch]]

    curve, start = [], time.perf_counter()
    model.train()
    for step, (x, ids) in enumerate(batches(), start=1):
        if args.mode == "discriminative":
            logits = model(x, torch.zeros(x.shape[0], device=device)).sample
            if not segmentation:
                logits = logits.mean(dim=(2, 3))
            loss = F.cross_entropy(logits, ids)
        else:
            y = dequantize(codec.encode(ids, spatial_size=x.shape[-2:]), 4.0, generator=generator)
            inputs = objective.prepare(x, y, generator=generator)
            t, s = inputs.t, inputs.label_sigma
            out = forward(inputs.sample[:, :c_x], inputs.sample[:, c_x:], t, s)
            image_loss = objective.image_loss(out, inputs.target, c_x, inputs.image_loss_mask)
            if args.label_param == "velocity":
                label_loss = F.mse_loss(out[:, c_x:], inputs.target[:, c_x:])
            elif args.label_param == "skip":
                # The paper's velocity loss, with the velocity written as v = y_s - out.
                label_loss = F.mse_loss(inputs.sample[:, c_x:] - out[:, c_x:], inputs.target[:, c_x:])
            elif args.label_param == "sample":
                label_loss = F.mse_loss(out[:, c_x:], y)
            elif args.label_param == "logits" or segmentation:
                pixel_ids = ids if segmentation else ids[:, None, None].expand(-1, *x.shape[-2:])
                label_loss = F.cross_entropy(out[:, c_x:], pixel_ids)
            else:  # logits_pooled, classification: one prediction per image, from the spatial mean of the logits
                label_loss = F.cross_entropy(out[:, c_x:].mean(dim=(2, 3)), ids)
            w = args.image_loss_weight
            loss = w * image_loss + (1 - w) * args.label_loss_scale * label_loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if ema is not None:
            decay = min(args.ema_decay, (1 + step) / (10 + step))
            with torch.no_grad():
                for averaged, current in zip(ema.parameters(), model.parameters()):
                    averaged.lerp_(current, 1 - decay)
        if step in eval_steps:
            point = {"step": step, "examples": step * args.batch, "seconds": round(time.perf_counter() - start)}
            point.update(evaluate())
            curve.append(point)
            print(json.dumps(point), flush=True)
            if args.out:  # written at every point, so a run stopped early still leaves its curve
                with open(args.out, "w") as file:
                    json.dump({"args": vars(args), "curve": curve}, file, indent=1)
        if (args.save_pipeline or args.score_generation) and step == (args.save_step or args.steps):
            pipe = build_pipeline(args, data, ema if ema is not None else model, objective)
            if args.save_pipeline:
                pipe.save_pretrained(args.save_pipeline, safe_serialization=True)
            if args.score_generation:
                if not curve or curve[-1]["step"] != step:
                    curve.append({"step": step, "examples": step * args.batch})
                curve[-1].update(score_generation(args, data, pipe.to(device)))
                print(json.dumps(curve[-1]), flush=True)
                if args.out:
                    with open(args.out, "w") as file:
                        json.dump({"args": vars(args), "curve": curve}, file, indent=1)
        if step >= args.steps:
            break
    return {"args": vars(args), "curve": curve}


def build_pipeline(args: argparse.Namespace, data: dict, model: UNet2DModel, objective: SymmFlowObjective):
    """The trained model as the pipeline `train_symmflow.py` would save (on the CPU, a copy of the weights)."""
    from diffusers_symmflow import SymmFlowPipeline, SymmFlowScheduler

    if args.mode != "symmflow" or args.label_param not in ("velocity", "logits"):
        raise ValueError(
            "--save_pipeline / --score_generation need --mode symmflow with --label_param velocity or logits."
        )
    return SymmFlowPipeline(
        unet=copy.deepcopy(model).float().cpu(),
        scheduler=SymmFlowScheduler(num_train_timesteps=objective.config.num_train_timesteps),
        task=data["task"],
        label_encoding="onehot",
        num_classes=data["num_classes"],
        label_prediction=args.label_param,
        label_input=args.label_input,
        background_class=data["num_classes"] - 1 if data["task"] == "segmentation" else None,
    )


def score_generation(args: argparse.Namespace, data: dict, pipe) -> dict:
    """FID and class consistency of `--score_generation` images at 25 steps (evaluate_symmflow.py's protocol)."""
    from diffusers_symmflow.evaluation import evaluate_generation

    def items(x, y):
        return [{"pixel_values": x[i].float(), "labels": y[i].long()} for i in range(len(y))]

    pipe.set_progress_bar_config(disable=True)
    modes = args.generation_modes.split(",")
    results = evaluate_generation(
        pipe,
        items(data["val_x"], data["val_y"]),
        steps=[25],
        sampling_modes=modes,
        num_generated=args.score_generation,
        feature_classifier_data=items(data["train_x"], data["train_y"]),
        batch_size=100,
        seed=0,
        progress=False,
    )
    by_mode = {
        mode: {
            key: scores[25][key]
            for key in ("fid", "class_consistency", "round_trip_accuracy", "round_trip_mean_iou")
            if scores[25].get(key) is not None
        }
        for mode, scores in results.generation.items()
    }
    first = next(iter(by_mode.values()))
    return {"generation_steps": 25, **first, "generation": by_mode, "generation_notes": results.notes}


if __name__ == "__main__":
    main()
