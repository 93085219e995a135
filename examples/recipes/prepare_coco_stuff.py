# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""Build the COCO-Stuff training set of examples/recipes/coco_stuff.sh: images with masks of the 171 paper classes.

COCO-Stuff ships its masks (`stuffthingmaps_trainval2017/{train,val}2017/*.png`) as raw ids 0..181 with 11 unused ids
and 255 for unlabelled pixels. This maps them with `coco_stuff_id_map` (171 contiguous classes, 255 unlabelled, the
authors' remap) and writes a `datasets` dataset with `image` and `mask` columns that `--dataset_name` reads::

    python examples/recipes/prepare_coco_stuff.py --images train2017 \
        --masks stuffthingmaps_trainval2017/train2017 --output coco-stuff-171
"""

import argparse
from pathlib import Path

import datasets
import numpy as np
import PIL.Image

from diffusers_symmflow.palettes import coco_stuff_id_map


def build(images: str, masks: str) -> datasets.Dataset:
    """Pairs `<images>/<name>.jpg` with `<masks>/<name>.png`, masks remapped to the 171 classes (255 unlabelled)."""
    table = coco_stuff_id_map()
    pairs = [(path, Path(masks) / f"{path.stem}.png") for path in sorted(Path(images).glob("*.jpg"))]
    missing = [str(mask) for _, mask in pairs if not mask.is_file()]
    if not pairs or missing:
        raise ValueError(f"No images in {images}, or masks missing in {masks} (first: {missing[:3]}).")

    def examples():
        for image, mask in pairs:
            raw = np.asarray(PIL.Image.open(mask))
            # The JPEG bytes as they are (no re-encoding); the remapped ids as a lossless PNG.
            yield {"image": {"path": None, "bytes": image.read_bytes()}, "mask": PIL.Image.fromarray(table[raw])}

    features = datasets.Features({"image": datasets.Image(), "mask": datasets.Image()})
    return datasets.Dataset.from_generator(examples, features=features)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", required=True, help="Folder of COCO images (*.jpg), e.g. train2017.")
    parser.add_argument("--masks", required=True, help="Folder of COCO-Stuff masks (*.png, raw ids).")
    parser.add_argument("--output", required=True, help="Where to save the dataset (datasets.save_to_disk).")
    args = parser.parse_args(argv)
    dataset = build(args.images, args.masks)
    dataset.save_to_disk(args.output)
    print(f"Saved {len(dataset)} examples to {args.output}.")


if __name__ == "__main__":
    main()
