"""A discriminative classifier with the same UNet backbone and budget as a SymmFlow classification model.

The baseline for "one model does all three": the same `UNet2DModel` config that `examples/train_symmflow.py`
builds, but with `in_channels = image channels`, `out_channels = K`, no label time, the timestep fixed at 0 and the
class logits the spatial mean of the output, trained with cross-entropy on the same data, batch size, learning rate
schedule and number of optimizer steps (or the same wall-clock budget). It prints the validation accuracy as JSON.

    python benchmarks/train_discriminative_baseline.py --task classification --max_train_steps 1500 \
        --train_batch_size 64 --learning_rate 1e-3
"""

import argparse
import json
import platform
import time

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from diffusers.optimization import get_scheduler

from diffusers_symmflow import symmflow_unet2d_config
from diffusers_symmflow.commands.data_args import add_data_arguments, data_config_from_args
from diffusers_symmflow.data import collate_fn, load_symmflow_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unet_preset", default="small", help="Preset of `symmflow_unet2d_config` (match training).")
    parser.add_argument("--max_train_steps", type=int, default=1500)
    parser.add_argument("--time_budget_s", type=float, default=None, help="Stop after this many seconds of training.")
    parser.add_argument("--train_batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--lr_warmup_steps", type=int, default=100)
    parser.add_argument("--eval_batch_size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    add_data_arguments(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.task != "classification":
        raise ValueError("The discriminative baseline classifies images: pass --task classification.")

    torch.manual_seed(args.seed)
    data = load_symmflow_data(data_config_from_args(args))
    config = symmflow_unet2d_config(
        data.image_channels, data.num_classes, data.resolution, label_time=False, preset=args.unet_preset
    )
    # Same backbone; only the channel counts differ (image in, K logits out).
    config.update(in_channels=data.image_channels, out_channels=data.num_classes)
    model = UNet2DModel(**config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
    lr_scheduler = get_scheduler(
        "cosine", optimizer, num_warmup_steps=args.lr_warmup_steps, num_training_steps=args.max_train_steps
    )
    loader = torch.utils.data.DataLoader(
        data.train,
        batch_size=args.train_batch_size,
        shuffle=True,
        collate_fn=collate_fn,
        drop_last=True,
        generator=torch.Generator().manual_seed(args.seed),
    )

    def logits_of(images: torch.Tensor) -> torch.Tensor:
        return model(images, torch.zeros(images.shape[0])).sample.mean(dim=(2, 3))

    step, start = 0, time.perf_counter()
    model.train()
    while step < args.max_train_steps:
        for batch in loader:
            loss = F.cross_entropy(logits_of(batch["pixel_values"]), batch["labels"])
            loss.backward()
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step >= args.max_train_steps or (
                args.time_budget_s and time.perf_counter() - start > args.time_budget_s
            ):
                break
        if args.time_budget_s and time.perf_counter() - start > args.time_budget_s:
            break
    train_seconds = time.perf_counter() - start

    model.eval()
    correct = total = 0
    validation = [data.validation[i] for i in range(len(data.validation))]
    with torch.no_grad():
        for i in range(0, len(validation), args.eval_batch_size):
            batch = collate_fn(validation[i : i + args.eval_batch_size])
            correct += int((logits_of(batch["pixel_values"]).argmax(dim=1) == batch["labels"]).sum())
            total += len(batch["labels"])
    result = {
        "benchmark": "discriminative_baseline",
        "unet_preset": args.unet_preset,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_steps": step,
        "train_seconds": round(train_seconds, 1),
        "validation_images": total,
        "accuracy": round(100.0 * correct / total, 2),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
