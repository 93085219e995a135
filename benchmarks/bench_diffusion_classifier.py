"""Classification cost: SymmFlow's one-step `classify` against the Diffusion Classifier protocol on the same model.

Diffusion Classifier (Li et al. 2023) classifies an image with a conditional generative model by trying every
class: for each class c it measures how well the model denoises the image when conditioned on c, over N noise
trials (a time and a noise draw, shared by all classes), and picks the class with the smallest mean error. That
costs K * N model calls per image. SymmFlow integrates the label side instead: one call for `classify(1)`.

Both run on the same trained classification pipeline (paper Table 3 compares against a separate model of the same
size; here the model is literally the same, which isolates the protocol). For class c and trial (t, xi_x, xi_y):

    x_t = t x + (1 - (1 - sigma_min) t) xi_x                       (paper eq. 1)
    y   = clean code of c (a model with a label time: label noise level 0, conditional)
          or y_t = (1 - (1 - sigma_min) t) c + t xi_y (a diagonal-only model, the paper's path)
    error_c = mean |v_theta_x(x_t, y, t) - (x - (1 - sigma_min) xi_x)|^2

It prints accuracy, model calls per image and wall time per image for `classify(1)` and for the Diffusion
Classifier with each trial count, and the speed ratio.

    python benchmarks/bench_diffusion_classifier.py --pipeline symmflow-mnist-cls --task classification \
        --num_images 200 --trials 1 4 16
"""

import argparse
import json
import platform
import time

import torch

from diffusers_symmflow import SymmFlowObjective, SymmFlowPipeline
from diffusers_symmflow.commands.data_args import add_data_arguments, data_config_from_args
from diffusers_symmflow.data import collate_fn, load_symmflow_data
from diffusers_symmflow.models import predict_velocity


@torch.no_grad()
def diffusion_classifier_errors(
    pipe: SymmFlowPipeline, images: torch.Tensor, num_trials: int, generator: torch.Generator
) -> torch.Tensor:
    """Mean image-velocity error per class, `[B, K]`, over `num_trials` (t, noise) trials shared by all classes.

    Args:
        pipe: a classification `SymmFlowPipeline`.
        images (`torch.Tensor` of shape `[B, C, H, W]`): images in [-1, 1].
        num_trials: noise trials per image.
        generator: draws the trials' times (stratified over (0, 1)) and noises.
    """
    objective = SymmFlowObjective(sigma_min=1e-4)
    num_classes, num_channels = pipe.label_codec.num_classes, pipe.num_image_channels
    x = pipe.encode_images(images).to(pipe.unet.dtype)
    batch, spatial = x.shape[0], tuple(x.shape[-2:])
    codes = pipe.encode_labels(torch.arange(num_classes), spatial_size=spatial).to(x)  # [K, C_y, H, W]
    conditional = pipe.supports_conditional_sampling
    errors = torch.zeros(batch, num_classes)
    for trial in range(num_trials):
        # Stratified times: trial i draws from the i-th of num_trials equal bins, as Li et al. spread theirs.
        t = (trial + torch.rand(batch, generator=generator)) / num_trials
        image_noise = torch.randn(x.shape, generator=generator).to(x)
        label_noise = torch.randn((batch, *codes.shape[1:]), generator=generator).to(x)
        x_t = objective.interpolate_image(x, image_noise, t.to(x).view(-1, 1, 1, 1))
        target = x - (1 - objective.config.sigma_min) * image_noise
        # All K classes of one trial in one batch: [B * K, ...], class index fastest.
        x_t = x_t.repeat_interleave(num_classes, dim=0)
        if conditional:
            labels = codes.repeat(batch, 1, 1, 1)
            label_sigma = torch.zeros(batch * num_classes)
        else:
            label_sigma = t.repeat_interleave(num_classes)
            labels = objective.interpolate_label(
                codes.repeat(batch, 1, 1, 1),
                label_noise.repeat_interleave(num_classes, dim=0),
                label_sigma.to(x).view(-1, 1, 1, 1),
            )
        sample = torch.cat([x_t, labels], dim=1)
        timestep = (1 - t).repeat_interleave(num_classes) * 1000
        velocity = predict_velocity(
            pipe.unet, sample, timestep.to(x.device), label_sigma.to(x.device) * 1000, label_head=pipe.label_head
        )
        error = (velocity[:, :num_channels].float() - target.repeat_interleave(num_classes, dim=0).float()) ** 2
        errors += error.flatten(1).mean(dim=1).view(batch, num_classes).cpu()
    return errors / num_trials


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", required=True, help="A classification SymmFlowPipeline directory.")
    parser.add_argument("--num_images", type=int, default=200, help="Validation images to classify.")
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 4, 16], help="Diffusion Classifier trials N.")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None)
    add_data_arguments(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.num_images < 1 or min(args.trials) < 1 or args.batch_size < 1:
        raise ValueError("--num_images, --trials and --batch_size must be positive.")

    pipe = SymmFlowPipeline.from_pretrained(args.pipeline)
    pipe.set_progress_bar_config(disable=True)
    if pipe.config.task != "classification":
        raise ValueError(f"{args.pipeline} is a {pipe.config.task} pipeline; this benchmark needs classification.")
    args.task = "classification"
    data = load_symmflow_data(data_config_from_args(args))
    items = [data.validation[i] for i in range(min(args.num_images, len(data.validation)))]
    batches = [collate_fn(items[i : i + args.batch_size]) for i in range(0, len(items), args.batch_size)]
    num_classes = pipe.label_codec.num_classes

    def run(method):
        correct, start = 0, time.perf_counter()
        for index, batch in enumerate(batches):
            correct += int((method(batch["pixel_values"], index) == batch["labels"]).sum())
        return 100.0 * correct / len(items), (time.perf_counter() - start) / len(items)

    rows = []
    accuracy, seconds = run(
        lambda images, index: (
            pipe.classify(
                (images + 1) / 2, num_inference_steps=1, generator=torch.Generator().manual_seed(index)
            ).labels
        )
    )
    rows.append(
        {"method": "SymmFlow classify(1)", "model_calls_per_image": 1, "accuracy": accuracy, "s_per_image": seconds}
    )
    for num_trials in args.trials:
        accuracy, seconds = run(
            lambda images, index: diffusion_classifier_errors(
                pipe, images, num_trials, torch.Generator().manual_seed(index)
            ).argmin(dim=1)
        )
        rows.append(
            {
                "method": f"Diffusion Classifier, N={num_trials}",
                "model_calls_per_image": num_classes * num_trials,
                "accuracy": accuracy,
                "s_per_image": seconds,
            }
        )
    for row in rows:
        row["time_vs_classify"] = round(row["s_per_image"] / rows[0]["s_per_image"], 1)
        row["accuracy"] = round(row["accuracy"], 2)
        row["s_per_image"] = round(row["s_per_image"], 5)
    print(
        json.dumps(
            {
                "benchmark": "diffusion_classifier",
                "pipeline": args.pipeline,
                "num_images": len(items),
                "num_classes": num_classes,
                "conditional_model": pipe.supports_conditional_sampling,
                "threads": torch.get_num_threads(),
                "machine": platform.machine(),
                "results": rows,
            },
            indent=2,
        )
    )
    return rows


if __name__ == "__main__":
    main()
