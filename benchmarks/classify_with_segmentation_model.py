"""Image classification by a segmentation model: `classify` on a pipeline with a `background_class`.

The bundled digit masks label every stroke pixel with its digit, so a digit-segmentation model also classifies:
the label is the object class covering the most pixels. This scores that on the held-out digits (1 step, one
generator per image) and prints the accuracy as JSON.

    python benchmarks/classify_with_segmentation_model.py --pipeline mnist-quality/seg_onehot
"""

import argparse
import json

import torch

from diffusers_symmflow import SymmFlowPipeline
from diffusers_symmflow.commands.data_args import add_data_arguments, data_config_from_args
from diffusers_symmflow.data import collate_fn, load_symmflow_data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeline", required=True, help="A segmentation SymmFlowPipeline directory.")
    parser.add_argument(
        "--background",
        type=int,
        default=None,
        help="Override the pipeline's background_class (pipelines saved before it existed: 10).",
    )
    parser.add_argument("--num_inference_steps", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=50)
    add_data_arguments(parser)
    args = parser.parse_args(argv)
    overrides = {} if args.background is None else {"background_class": args.background}
    pipe = SymmFlowPipeline.from_pretrained(args.pipeline, **overrides)
    pipe.set_progress_bar_config(disable=True)
    # The same held-out digits as the classification models, with their class ids as labels.
    args.task = "classification"
    data = load_symmflow_data(data_config_from_args(args), split_seed=0)
    items = [data.validation[i] for i in range(len(data.validation))]
    correct = 0
    for start in range(0, len(items), args.batch_size):
        batch = collate_fn(items[start : start + args.batch_size])
        generators = [torch.Generator().manual_seed(start + i) for i in range(len(batch["labels"]))]
        out = pipe.classify(
            (batch["pixel_values"] + 1) / 2, num_inference_steps=args.num_inference_steps, generator=generators
        )
        correct += int((out.labels == batch["labels"]).sum())
    result = {
        "benchmark": "classify_with_segmentation_model",
        "pipeline": args.pipeline,
        "num_inference_steps": args.num_inference_steps,
        "num_images": len(items),
        "accuracy": round(100.0 * correct / len(items), 2),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
