"""Tiny, randomly initialised SymmFlow components shared by the tests (CPU, no downloads).

Each fixture returns a factory so a test can ask for the variant it needs; the same arguments and seed always give
the same weights.
"""

import pytest
import torch
from accelerate import Accelerator
from testing_utils import (
    PlantedPickle,
    load_example,
    make_tiny_latent_unet,
    make_tiny_pixel_unet,
    make_tiny_vae,
    reset_accelerate_state,
)


@pytest.fixture(scope="session")
def tiny_pixel_unet():
    """Factory: `tiny_pixel_unet(image_channels=1, label_channels=1, sample_size=8, label_time=True, seed=0)`."""
    return make_tiny_pixel_unet


@pytest.fixture(scope="session")
def tiny_vae():
    """Factory: `tiny_vae(seed=0)`."""
    return make_tiny_vae


@pytest.fixture(scope="session")
def tiny_latent_unet():
    """Factory: `tiny_latent_unet(label_time=True, seed=0)`."""
    return make_tiny_latent_unet


@pytest.fixture(scope="module")
def train():
    """`examples/train_symmflow.py` as a module (its `main(argv)` trains in-process)."""
    return load_example("train_symmflow.py")


@pytest.fixture
def fresh_accelerate_state():
    reset_accelerate_state()
    yield
    reset_accelerate_state()


@pytest.fixture
def accelerator():
    """A one-process CPU `Accelerator` and a prepared `Linear(3, 2)`, as `(accelerator, model)`."""
    reset_accelerate_state()
    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(3, 2))
    yield accelerator, model
    reset_accelerate_state()


@pytest.fixture
def planted_pickle():
    """`PlantedPickle` (see `testing_utils`), as a fixture."""
    return PlantedPickle
