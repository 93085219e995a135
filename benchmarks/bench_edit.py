"""Mask-guided editing by inversion (`SymmFlowPipeline.invert` / `.edit`) on the bundled MNIST digits.

Measures, on held-out digits of the validation split the training script uses (masks derived from the digits: each
stroke pixel carries its digit's class, background class 10):

1. Reconstruction: PSNR of invert-then-generate with the unchanged mask, against the number of steps, beside the
   naive baseline (generation from the same mask with fresh noise).
2. Edits, at several `strength`s, of three kinds:
   * `swap`: the mask becomes the mask of another validation digit of another class (a 3 becomes that 7);
   * `relabel`: the same stroke pixels take another class (the stroke's shape is kept, its class changes);
   * `shift`: the mask moves 3 pixels to the right (a stroke moves).
   For each: how well the result follows the new mask (mIoU of `segment(result)` against the new mask, the
   "round trip", and the IoU of its strokes, any digit against the background, which the segmenter's confusion
   between digit classes does not blur; the same round trip on the unedited sources says how good this judge is)
   and how well the rest of the image is kept (PSNR against the source image on the pixels whose
   class the edit leaves unchanged), against the naive baseline of generating from the new mask with fresh noise.

Writes `results.json` (every number, the settings and this command), `edit_metrics.png` (the curves) and
`edits.png` (source, source mask, new mask, edit, baseline) under `--output_dir`. LPIPS is not reported: its AlexNet
weights download at run time, which this offline setting cannot do.

    HF_HUB_OFFLINE=1 python benchmarks/bench_edit.py --pipeline symmflow-mnist --output_dir docs/benchmarks/edit
"""

import argparse
import json
import os
import platform
import shlex
import sys
import time

import numpy as np
import torch

import diffusers_symmflow  # noqa: F401  (registers the component classes the pipeline loader looks up)
from diffusers_symmflow.commands.data_args import add_data_arguments, data_config_from_args
from diffusers_symmflow.data import load_symmflow_data
from diffusers_symmflow.evaluation import mean_iou
from diffusers_symmflow.pipelines import SymmFlowPipeline


EDIT_KINDS = ("swap", "relabel", "shift")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", type=str, required=True, help="Directory of a saved SymmFlowPipeline.")
    parser.add_argument("--output_dir", type=str, default="docs/benchmarks/edit")
    parser.add_argument("--num_images", type=int, default=64, help="Validation digits edited / reconstructed.")
    parser.add_argument("--reconstruction_steps", type=int, nargs="+", default=[1, 2, 5, 10, 25, 50])
    parser.add_argument("--edit_steps", type=int, default=25, help="Steps of the edits' grid (and the baseline's).")
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.5, 0.75, 1.0])
    parser.add_argument("--shift_pixels", type=int, default=3)
    parser.add_argument("--num_figure_rows", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    add_data_arguments(parser)
    return parser.parse_args(argv)


def psnr(a: torch.Tensor, b: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image PSNR (dB) of images `[B, C, H, W]` in [0, 1], over the pixels where `where` `[B, H, W]` is true."""
    squared = ((a - b) ** 2).mean(dim=1)  # [B, H, W]
    if where is None:
        where = torch.ones_like(squared, dtype=torch.bool)
    mse = (squared * where).sum(dim=(1, 2)) / where.sum(dim=(1, 2)).clamp_min(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


def new_masks(kind: str, masks: torch.Tensor, digits: torch.Tensor, background: int, shift: int) -> torch.Tensor:
    """The edited masks `[B, H, W]` for one edit kind (see the module docstring)."""
    if kind == "shift":
        moved = torch.full_like(masks, background)
        moved[..., shift:] = masks[..., :-shift]
        return moved
    if kind == "relabel":
        target = (digits + 1 + digits % 9) % 10  # another class for every digit (never the same)
        target = torch.where(target == digits, (digits + 1) % 10, target)
        return torch.where(masks != background, target[:, None, None], masks)
    # swap: the mask of the nearest later digit of another class.
    order = []
    for i in range(len(digits)):
        j = next(k % len(digits) for k in range(i + 1, i + 1 + len(digits)) if digits[k % len(digits)] != digits[i])
        order.append(j)
    return masks[order]


def round_trip(pipe, images01: torch.Tensor, masks: torch.Tensor, seed: int) -> dict:
    """How well images follow `masks`, judged by the model's own one-step `segment`.

    `round_trip_miou`: mIoU over all classes; `round_trip_stroke_iou`: IoU of the strokes (any digit class against
    the background), which separates "follows the shape" from the segmenter's confusion between digit classes.
    """
    predicted = pipe.segment(images01, generator=torch.Generator().manual_seed(seed), output_type="pt").masks
    background = pipe.config.background_class
    strokes = mean_iou((predicted != background).long(), (masks != background).long(), 2).per_class_iou[1]
    return {
        "round_trip_miou": float(mean_iou(predicted, masks, pipe.config.num_classes).mean_iou),
        "round_trip_stroke_iou": float(strokes),
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    pipe = SymmFlowPipeline.from_pretrained(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    background = pipe.config.background_class
    if pipe.config.task != "segmentation" or background is None:
        raise ValueError("This benchmark edits digit masks: it needs a segmentation pipeline with a background_class.")
    num_classes = pipe.config.num_classes

    data = load_symmflow_data(data_config_from_args(args))
    count = min(args.num_images, len(data.validation))
    items = [data.validation[i] for i in range(count)]
    images = torch.stack([item["pixel_values"] for item in items])  # [-1, 1]
    masks = torch.stack([item["labels"] for item in items])
    images01 = (images + 1) / 2
    # The digit of each image: its most common non-background class.
    digits = torch.tensor(
        [int(np.bincount(m[m != background].numpy(), minlength=num_classes).argmax()) for m in masks]
    )

    def fresh_noise(seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    timings = {}
    # 1. Reconstruction vs steps.
    reconstruction = []
    start = time.perf_counter()
    for steps in args.reconstruction_steps:
        latents = pipe.invert(images01, masks, num_inference_steps=steps).latents
        rebuilt = pipe(mask=masks, latents=latents, num_inference_steps=steps, output_type="pt").images
        fresh = pipe(mask=masks, num_inference_steps=steps, generator=fresh_noise(args.seed), output_type="pt").images
        reconstruction.append(
            {
                "steps": steps,
                "psnr": float(psnr(rebuilt, images01).mean()),
                "baseline_psnr": float(psnr(fresh, images01).mean()),
            }
        )
        print(f"reconstruction, {steps} steps: {reconstruction[-1]}", flush=True)
    timings["reconstruction_s"] = time.perf_counter() - start

    # The judge's own accuracy: the same round trip on the unedited source images and their masks.
    judge = round_trip(pipe, images01, masks, args.seed)
    print(f"round trip on the source images: {judge}", flush=True)

    # 2. Edits.
    start = time.perf_counter()
    edits, figure_rows = [], {}
    for kind in EDIT_KINDS:
        targets = new_masks(kind, masks, digits, background, args.shift_pixels)
        kept = targets == masks  # pixels whose class the edit leaves unchanged
        baseline = pipe(
            mask=targets, num_inference_steps=args.edit_steps, generator=fresh_noise(args.seed), output_type="pt"
        ).images
        row = {
            "kind": kind,
            "changed_pixel_fraction": float((~kept).float().mean()),
            "baseline": {
                **round_trip(pipe, baseline, targets, args.seed),
                "psnr_unchanged_region": float(psnr(baseline, images01, kept).mean()),
            },
            "edit": [],
        }
        for strength in args.strengths:
            edited = pipe.edit(
                images01,
                targets,
                source_mask=masks,
                strength=strength,
                num_inference_steps=args.edit_steps,
                output_type="pt",
            ).images
            row["edit"].append(
                {
                    "strength": strength,
                    **round_trip(pipe, edited, targets, args.seed),
                    "psnr_unchanged_region": float(psnr(edited, images01, kept).mean()),
                }
            )
            if strength == max(args.strengths):
                figure_rows[kind] = (targets, edited, baseline)
        edits.append(row)
        print(f"edit {kind}: {json.dumps(row)}", flush=True)
    timings["edits_s"] = time.perf_counter() - start

    results = {
        "command": "HF_HUB_OFFLINE=1 python "
        + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])]),
        "pipeline": args.pipeline,
        "num_images": count,
        "edit_steps": args.edit_steps,
        "source_masks": "the digits' derived masks (not predicted)",
        "reconstruction": reconstruction,
        "round_trip_on_source_images": judge,
        "edits": edits,
        "timings": timings,
        "platform": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "machine": platform.machine(),
            "threads": torch.get_num_threads(),
        },
    }
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as file:
        json.dump(results, file, indent=2)
    plot(results, os.path.join(args.output_dir, "edit_metrics.png"))
    figure(pipe, images01, masks, figure_rows, args.num_figure_rows, os.path.join(args.output_dir, "edits.png"))
    print(f"wrote {args.output_dir}/results.json, edit_metrics.png, edits.png")
    return results


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 3.9))
    steps = [r["steps"] for r in results["reconstruction"]]
    axes[0].plot(steps, [r["psnr"] for r in results["reconstruction"]], "o-", label="invert, then generate")
    axes[0].plot(steps, [r["baseline_psnr"] for r in results["reconstruction"]], "s--", label="fresh noise")
    axes[0].set(xscale="log", xlabel="Euler steps", ylabel="PSNR (dB)", title="Reconstruction, unchanged mask")
    axes[0].legend()
    panels = (
        (axes[1], "round_trip_miou", "mIoU", "Follows the new mask (round-trip mIoU)"),
        (axes[2], "round_trip_stroke_iou", "IoU", "Follows its strokes (round-trip stroke IoU)"),
        (axes[3], "psnr_unchanged_region", "PSNR (dB)", "Keeps the rest (PSNR, unchanged pixels)"),
    )
    for kind_index, row in enumerate(results["edits"]):
        color = f"C{kind_index}"
        strengths = [e["strength"] for e in row["edit"]]
        for axis, key, _, _ in panels:
            axis.plot(strengths, [e[key] for e in row["edit"]], "o-", color=color, label=f"edit: {row['kind']}")
            axis.axhline(row["baseline"][key], color=color, linestyle="--", label=f"fresh noise: {row['kind']}")
    for axis, key, ylabel, title in panels:
        if key in results["round_trip_on_source_images"]:
            axis.axhline(
                results["round_trip_on_source_images"][key],
                color="grey",
                linestyle=":",
                label="source images (the judge's own score)",
            )
        axis.set(xlabel="strength", ylabel=ylabel, title=title)
    axes[3].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure(pipe, images01, masks, rows: dict, num_rows: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    palette = np.asarray(pipe.config.palette, dtype=np.uint8)
    columns = ["source", "source mask", "new mask", "edit", "fresh noise"]
    entries = [(kind, i) for kind in rows for i in range(min(num_rows // len(rows) or 1, len(images01)))]
    fig, axes = plt.subplots(len(entries), len(columns), figsize=(1.6 * len(columns), 1.6 * len(entries)))
    for r, (kind, i) in enumerate(entries):
        targets, edited, baseline = rows[kind]
        panels = [images01[i, 0], palette[masks[i].numpy()], palette[targets[i].numpy()], edited[i, 0], baseline[i, 0]]
        for c, panel in enumerate(panels):
            axis = axes[r, c]
            panel = panel.numpy() if isinstance(panel, torch.Tensor) else panel
            axis.imshow(panel, cmap="gray" if panel.ndim == 2 else None, vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(columns[c], fontsize=9)
            if c == 0:
                axis.set_ylabel(kind, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
