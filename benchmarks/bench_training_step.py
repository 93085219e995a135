"""SymmFlow training step vs a bare training step of the same UNet on the same batch.

What SymmFlow adds to a plain UNet regression step: encoding labels (one-hot / palette / scalar codes),
dequantization, drawing two times and two noises, building both interpolants and targets (eq. 1-2), and the
two-part weighted loss (eq. 3). The bare step feeds the same UNet a ready-made input of the same shape and
regresses a ready-made target. Target ratio: <= 1.10.

    python benchmarks/bench_training_step.py --batch_size 32 --repeats 20
"""

import argparse
import json
import platform

import torch
import torch.nn.functional as F
from _timing import interleaved_medians
from diffusers import UNet2DModel

from diffusers_symmflow import (
    LabelCodec,
    SymmFlowObjective,
    SymmFlowPipeline,
    SymmFlowScheduler,
    symmflow_unet2d_config,
)
from diffusers_symmflow.models import predict_velocity


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--num_classes", type=int, default=11)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--label_encoding", default="onehot")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    label_channels = LabelCodec(
        task="segmentation", encoding=args.label_encoding, num_classes=args.num_classes
    ).num_channels
    unet = UNet2DModel(**symmflow_unet2d_config(1, label_channels, args.resolution, preset=args.preset))
    pipe = SymmFlowPipeline(
        unet=unet,
        scheduler=SymmFlowScheduler(),
        task="segmentation",
        label_encoding=args.label_encoding,
        num_classes=args.num_classes,
    )
    objective = SymmFlowObjective(label_time="mixed")
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-4)

    b, r = args.batch_size, args.resolution
    images = torch.rand(b, 1, r, r) * 2 - 1
    masks = torch.randint(0, args.num_classes, (b, r, r))
    generator = torch.Generator().manual_seed(0)
    bare_input = torch.randn(b, 1 + label_channels, r, r)
    bare_target = torch.randn_like(bare_input)
    bare_t = torch.rand(b) * 1000
    bare_s = torch.rand(b) * 1000

    def symmflow_step():
        code = pipe.encode_labels(masks, spatial_size=(r, r), beta=4.0, generator=generator)
        inputs = objective.prepare(pipe.encode_images(images), code, generator=generator)
        velocity = predict_velocity(unet, inputs.sample, inputs.timestep, inputs.label_timestep)
        objective.loss(velocity, inputs.target, 1).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def bare_step():
        velocity = unet(bare_input, bare_t, class_labels=bare_s).sample
        F.mse_loss(velocity, bare_target).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    medians = interleaved_medians({"symmflow": symmflow_step, "bare": bare_step}, args.repeats)
    result = {
        "benchmark": "training_step",
        "batch_size": b,
        "resolution": r,
        "unet_preset": args.preset,
        "label_encoding": args.label_encoding,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "symmflow_step_s": round(medians["symmflow"], 4),
        "bare_step_s": round(medians["bare"], 4),
        "ratio": round(medians["symmflow"] / medians["bare"], 3),
        "target": "<= 1.10",
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
