"""Latency of `segment(num_inference_steps=1)` / `classify(1)` against one raw UNet forward on the same batch.

One-step segmentation and classification are one UNet call plus SymmFlow's own work: input checks, image
normalisation, label noise, the Euler step and decoding the label code. This measures what that costs on top of
the UNet call itself, and the extra peak memory of each. Target ratio: <= 1.05 at batch 16 on CPU, 2 threads.

    python benchmarks/bench_inference.py --batch_size 16 --repeats 20
"""

import argparse
import json
import platform
import statistics

import torch
from _timing import current_rss_mib, interleaved_times, paired_ratio, peak_memory_in_subprocess, peak_rss_mib
from diffusers import UNet2DModel

from diffusers_symmflow import LabelCodec, SymmFlowPipeline, SymmFlowScheduler, symmflow_unet2d_config


def build(task: str, encoding: str, num_classes: int, resolution: int, preset: str) -> SymmFlowPipeline:
    channels = LabelCodec(task=task, encoding=encoding, num_classes=num_classes).num_channels
    unet = UNet2DModel(**symmflow_unet2d_config(1, channels, resolution, preset=preset)).eval()
    pipe = SymmFlowPipeline(
        unet=unet, scheduler=SymmFlowScheduler(), task=task, label_encoding=encoding, num_classes=num_classes
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


CALLS = {
    "segment": ("segmentation", "onehot", 11),
    "classify": ("classification", "onehot", 10),
}


def make_calls(call: str, batch_size: int, resolution: int, preset: str):
    """The pipeline call and the raw UNet forward it is compared with, on the same batch."""
    task, encoding, num_classes = CALLS[call]
    torch.manual_seed(0)
    pipe = build(task, encoding, num_classes, resolution, preset)
    unet = pipe.unet
    images = torch.rand(batch_size, 1, resolution, resolution)  # [0, 1], as a user passes them
    raw_input = torch.randn(batch_size, unet.config.in_channels, resolution, resolution)
    t, s = torch.zeros(batch_size), torch.full((batch_size,), 1000.0)

    @torch.no_grad()
    def raw_forward():
        return unet(raw_input, t, class_labels=s).sample

    def pipeline_call():
        generator = torch.Generator().manual_seed(0)
        if call == "segment":
            return pipe.segment(images, num_inference_steps=1, generator=generator, output_type="pt")
        return pipe.classify(images, num_inference_steps=1, generator=generator)

    return pipeline_call, raw_forward


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    # Internal: measure one call's peak memory in this (fresh) process and print it.
    parser.add_argument("--memory_of", nargs=2, metavar=("CALL", "WHICH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    b, r = args.batch_size, args.resolution

    if args.memory_of:
        call, which = args.memory_of
        pipeline_call, raw_forward = make_calls(call, b, r, args.preset)
        fn = pipeline_call if which == "pipeline" else raw_forward
        fn()  # warm-up: allocator caches and lazily built state are not the call's own memory
        before = current_rss_mib()
        fn()
        print(max(peak_rss_mib() - before, 0.0))
        return None

    results = []
    for call in CALLS:
        pipeline_call, raw_forward = make_calls(call, b, r, args.preset)
        times = interleaved_times({"pipeline": pipeline_call, "raw": raw_forward}, args.repeats)
        medians = {name: statistics.median(values) for name, values in times.items()}
        common = ["--batch_size", str(b), "--resolution", str(r), "--preset", args.preset]
        common += ["--threads", str(torch.get_num_threads())]
        results.append(
            {
                "call": f"{call}(num_inference_steps=1)",
                "batch_size": b,
                "resolution": r,
                "unet_preset": args.preset,
                "pipeline_s": round(medians["pipeline"], 4),
                "raw_unet_forward_s": round(medians["raw"], 4),
                # Per-round ratio, median over the rounds (steadier than the ratio of the medians; both printed).
                "ratio": round(paired_ratio(times["pipeline"], times["raw"]), 3),
                "ratio_of_medians": round(medians["pipeline"] / medians["raw"], 3),
                "target": "<= 1.05",
                # Peak RSS growth of a second call over a warmed-up process (first-call allocations excluded).
                "pipeline_peak_growth_mib": round(
                    peak_memory_in_subprocess(__file__, [*common, "--memory_of", call, "pipeline"]), 1
                ),
                "raw_peak_growth_mib": round(
                    peak_memory_in_subprocess(__file__, [*common, "--memory_of", call, "raw"]), 1
                ),
            }
        )
    print(
        json.dumps({"threads": torch.get_num_threads(), "machine": platform.machine(), "results": results}, indent=2)
    )
    return results


if __name__ == "__main__":
    main()
