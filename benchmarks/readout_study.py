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
    `logits` (the label head predicts class logits, cross-entropy; clean code = 2 softmax - 1);
  - `--label_input raw` (the paper's) or `gated` (the label channels enter the UNet scaled by `1 - s`, so at the
    readout's `s = 1` the model sees the clean image and zeros, the discriminative model's input);
  - `--image_loss_weight`, `--label_time`, `--lr`, `--batch`, `--steps`.

    OMP_NUM_THREADS=1 python benchmarks/readout_study.py --task segmentation --mode symmflow --label_param sample \
        --label_input gated --steps 150 --out result.json
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel

from diffusers_symmflow.data import add_data_arguments, collate_fn, load_symmflow_data
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["discriminative", "symmflow"], default="symmflow")
    parser.add_argument("--label_param", choices=["velocity", "skip", "sample", "logits"], default="velocity")
    parser.add_argument("--label_input", choices=["raw", "gated"], default="raw")
    parser.add_argument("--image_loss_weight", type=float, default=0.5)
    parser.add_argument("--label_time", default="diagonal")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--eval_every", type=int, default=50)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    add_data_arguments(parser)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    data = load_symmflow_data(args)
    k = data.num_classes
    codec = LabelCodec(task=data.task, encoding="onehot", num_classes=k)
    segmentation = data.task == "segmentation"
    c_x = data.image_channels
    if args.mode == "discriminative":
        config = symmflow_unet2d_config(c_x, k, data.resolution, label_time=False, preset=args.preset)
        config.update(in_channels=c_x, out_channels=k)
    else:
        config = symmflow_unet2d_config(
            c_x, codec.num_channels, data.resolution, label_time=args.label_time != "diagonal", preset=args.preset
        )
    model = UNet2DModel(**config)
    objective = SymmFlowObjective(image_loss_weight=args.image_loss_weight, label_time=args.label_time)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    loader = torch.utils.data.DataLoader(
        data.train, batch_size=args.batch, shuffle=True, collate_fn=collate_fn, drop_last=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    validation = collate_fn([data.validation[i] for i in range(len(data.validation))])
    generator = torch.Generator().manual_seed(args.seed)

    def forward(x, y_s, t, s):
        if args.label_input == "gated":
            y_s = y_s * (1 - s).view(-1, 1, 1, 1)
        kwargs = {"class_labels": s * 1000} if config["class_embed_type"] else {}
        return model(torch.cat([x, y_s], 1), (1 - t) * 1000, **kwargs).sample

    def readout(images):
        """Class ids from one Euler step at t = 1 (image clean, label noise)."""
        if args.mode == "discriminative":
            logits = model(images, torch.zeros(images.shape[0])).sample
        else:
            noise = torch.randn((images.shape[0], codec.num_channels, *images.shape[-2:]), generator=generator)
            ones = torch.ones(images.shape[0])
            out = forward(images, noise, ones, ones)[:, c_x:]
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
        model.eval()
        matrix = torch.zeros(k, k, dtype=torch.long)
        with torch.no_grad():
            for i in range(0, len(validation["labels"]), 100):
                pred = readout(validation["pixel_values"][i : i + 100])
                matrix += confusion(pred, validation["labels"][i : i + 100], k)
        model.train()
        return scores(matrix, data.task)

    curve, step, start = [], 0, time.perf_counter()
    model.train()
    while step < args.steps:
        for batch in loader:
            x, ids = batch["pixel_values"], batch["labels"]
            if args.mode == "discriminative":
                logits = model(x, torch.zeros(x.shape[0])).sample
                if not segmentation:
                    logits = logits.mean(dim=(2, 3))
                loss = F.cross_entropy(logits, ids)
            else:
                y = dequantize(codec.encode(ids, spatial_size=x.shape[-2:]), 4.0, generator=generator)
                inputs = objective.prepare(x, y, generator=generator)
                t, s = inputs.t, inputs.label_sigma
                out = forward(inputs.sample[:, :c_x], inputs.sample[:, c_x:], t, s)
                image_loss = F.mse_loss(out[:, :c_x], inputs.target[:, :c_x])
                if args.label_param == "velocity":
                    label_loss = F.mse_loss(out[:, c_x:], inputs.target[:, c_x:])
                elif args.label_param == "skip":
                    # The paper's velocity loss, with the velocity written as v = y_s - out.
                    label_loss = F.mse_loss(inputs.sample[:, c_x:] - out[:, c_x:], inputs.target[:, c_x:])
                elif args.label_param == "sample":
                    label_loss = F.mse_loss(out[:, c_x:], y)
                else:
                    pixel_ids = ids if segmentation else ids[:, None, None].expand(-1, *x.shape[-2:])
                    label_loss = F.cross_entropy(out[:, c_x:], pixel_ids)
                w = args.image_loss_weight
                loss = w * image_loss + (1 - w) * label_loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step % args.eval_every == 0 or step == args.steps:
                point = {"step": step, "examples": step * args.batch, "seconds": round(time.perf_counter() - start)}
                point.update(evaluate())
                curve.append(point)
                print(json.dumps(point), flush=True)
            if step >= args.steps:
                break
    result = {"args": {k_: v for k_, v in vars(args).items()}, "curve": curve}
    if args.out:
        with open(args.out, "w") as file:
            json.dump(result, file, indent=1)
    return result


if __name__ == "__main__":
    main()
