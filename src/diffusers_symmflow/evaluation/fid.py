# Copyright 2026 The diffusers-symmflow authors. Licensed under the Apache License, Version 2.0.
"""FID and KID between two sets of image features, and the feature extractors that give them.

* `FeatureStats` accumulates features over batches (mean and covariance in float64 by Chan's pairwise update,
  which avoids the cancellation of raw sums of squares) and keeps them for KID.
* `frechet_distance`: ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)`` (Heusel et al. 2017),
  in float64 with symmetric eigendecompositions: ``S1^1/2 S2 S1^1/2`` is symmetric positive semi-definite and has
  the eigenvalues of ``S1 S2``, so the trace of the root is a sum of square roots of real eigenvalues. Round-off
  makes some of them tiny negatives; they are clipped to 0. This needs no complex arithmetic and, unlike
  ``scipy.linalg.sqrtm``, no retry with a diagonal offset when a covariance is singular (fewer samples than
  feature dimensions).
* `kernel_inception_distance`: the unbiased MMD^2 with the polynomial kernel ``k(x, y) = (x.y / d + 1)^3``
  (Binkowski et al. 2018), averaged over random subsets.

FID and KID values depend on the feature extractor: numbers are comparable only between runs that use the same
one. `load_feature_extractor` takes a TorchScript file, a Python path ``module:attr``, or ``inception:PATH``
for the TorchScript Inception network of the StyleGAN / clean-fid tools (``inception-2015-12-05.pt``), the
standard FID features. `FeatureClassifier` is the offline default: a small CNN the evaluation trains on the real
images of the data set itself; its penultimate features feed FID/KID and its predictions score class consistency.
"""

import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import ModelMixin
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.utils import BaseOutput
from torch import nn
from tqdm.auto import tqdm

from ..inputs import check_positive_int


class FeatureStats:
    """Mean, covariance and (optionally) the raw rows of a stream of feature batches.

    Args:
        keep_features (`bool`, defaults to `True`): keep every row, for `kernel_inception_distance`. FID needs
            only the mean and covariance.

    Example::

        real = FeatureStats()
        for images in loader:
            real.update(extractor(images))
        fid = frechet_distance_from_stats(real, fake)
    """

    def __init__(self, keep_features: bool = True):
        self.keep_features = keep_features
        self.num_samples = 0
        self._mean = None
        self._scatter = None  # sum of outer products of deviations from the running mean
        self._rows = []

    @property
    def dim(self) -> int | None:
        """Feature dimension, `None` before the first update."""
        return None if self._mean is None else self._mean.shape[0]

    def update(self, features: torch.Tensor | np.ndarray) -> None:
        """Add a batch of features.

        Args:
            features (`torch.Tensor` or `np.ndarray` of shape `(N, D)` or `(N, D, 1, 1)`): one row per image.
        """
        if isinstance(features, torch.Tensor):
            features = features.detach().cpu().double().numpy()
        features = np.asarray(features, dtype=np.float64)
        features = features.reshape(features.shape[0], -1) if features.ndim > 1 else features
        if features.ndim != 2:
            raise ValueError(f"`features` must have shape (N, D), got {features.shape}.")
        if self.dim is not None and features.shape[1] != self.dim:
            raise ValueError(f"`features` have {features.shape[1]} dimensions; earlier batches had {self.dim}.")
        if not np.isfinite(features).all():
            raise ValueError("`features` contain NaN or infinite values.")
        count = features.shape[0]
        if count == 0:
            return
        batch_mean = features.mean(0)
        deviations = features - batch_mean
        batch_scatter = deviations.T @ deviations
        if self._mean is None:
            self._mean, self._scatter = batch_mean, batch_scatter
        else:
            total = self.num_samples + count
            delta = batch_mean - self._mean
            self._mean = self._mean + delta * (count / total)
            self._scatter = self._scatter + batch_scatter + np.outer(delta, delta) * (self.num_samples * count / total)
        self.num_samples += count
        if self.keep_features:
            self._rows.append(features)

    def mean(self) -> np.ndarray:
        """`np.ndarray` of shape `(D,)`, float64."""
        if self._mean is None:
            raise ValueError("No features were added.")
        return self._mean.copy()

    def covariance(self) -> np.ndarray:
        """Unbiased sample covariance, `np.ndarray` of shape `(D, D)`, float64. Needs at least 2 samples."""
        if self.num_samples < 2:
            raise ValueError(f"A covariance needs at least 2 samples, got {self.num_samples}.")
        return self._scatter / (self.num_samples - 1)

    def features(self) -> np.ndarray:
        """All rows added so far, `np.ndarray` of shape `(N, D)`, float64."""
        if not self.keep_features:
            raise ValueError("This FeatureStats was built with keep_features=False.")
        if not self._rows:
            raise ValueError("No features were added.")
        return np.concatenate(self._rows, 0)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix; round-off negative eigenvalues count as 0."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2), computed in float64.

    Args:
        mu1 (`np.ndarray` of shape `(D,)`): the first mean.
        sigma1 (`np.ndarray` of shape `(D, D)`): the first covariance.
        mu2 (`np.ndarray` of shape `(D,)`): the second mean.
        sigma2 (`np.ndarray` of shape `(D, D)`): the second covariance.

    Returns:
        `float` >= 0 (0 for identical statistics, up to round-off of order 1e-12 of the traces).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    dim = mu1.shape[0]
    for name, value, shape in (("mu2", mu2, (dim,)), ("sigma1", sigma1, (dim, dim)), ("sigma2", sigma2, (dim, dim))):
        if value.shape != shape:
            raise ValueError(f"`{name}` has shape {value.shape}; expected {shape} to match `mu1`.")
    root1 = _symmetric_sqrt(sigma1)
    product = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return float(max(distance, 0.0))


def frechet_distance_from_stats(stats1: FeatureStats, stats2: FeatureStats) -> float:
    """FID between two accumulated feature sets (see `frechet_distance`)."""
    return frechet_distance(stats1.mean(), stats1.covariance(), stats2.mean(), stats2.covariance())


@dataclass
class KIDOutput(BaseOutput):
    """Kernel Inception Distance.

    Args:
        mean (`float`): the unbiased MMD^2 averaged over subsets; about 0 (and possibly slightly negative) for
            samples of one distribution.
        std (`float`): its standard deviation over the subsets.
    """

    mean: float
    std: float


def _as_feature_array(features) -> np.ndarray:
    if isinstance(features, FeatureStats):
        return features.features()
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().double().numpy()
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"Features must have shape (N, D), got {features.shape}.")
    return features


def kernel_inception_distance(
    features1: FeatureStats | np.ndarray | torch.Tensor,
    features2: FeatureStats | np.ndarray | torch.Tensor,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> KIDOutput:
    """KID: unbiased MMD^2 with the kernel `k(x, y) = (x.y / D + 1)^3`, averaged over random subsets.

    Args:
        features1 (`FeatureStats`, or an array of shape `(N1, D)`): the first set.
        features2 (`FeatureStats`, or an array of shape `(N2, D)`): the second set.
        num_subsets (`int`, defaults to 100): number of subset pairs drawn.
        subset_size (`int`, defaults to 1000): rows per subset, capped at `min(N1, N2)` (at least 2 are needed).
        seed (`int`, defaults to 0): seed of the subset draws.

    Returns:
        `KIDOutput` (mean and standard deviation over the subsets).
    """
    x, y = _as_feature_array(features1), _as_feature_array(features2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"The two feature sets have {x.shape[1]} and {y.shape[1]} dimensions.")
    check_positive_int("num_subsets", num_subsets)
    size = min(subset_size, x.shape[0], y.shape[0])
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {x.shape[0]} and {y.shape[0]}.")
    dim = x.shape[1]
    rng = np.random.default_rng(seed)
    off_diagonal = 1.0 / (size * (size - 1))
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        a = x[rng.choice(x.shape[0], size, replace=False)]
        b = y[rng.choice(y.shape[0], size, replace=False)]
        k_aa = (a @ a.T / dim + 1) ** 3
        k_bb = (b @ b.T / dim + 1) ** 3
        k_ab = (a @ b.T / dim + 1) ** 3
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) * off_diagonal
        values[i] = within - 2 * k_ab.mean()
    return KIDOutput(mean=float(values.mean()), std=float(values.std()))


class FeatureClassifier(ModelMixin, ConfigMixin):
    """A small CNN classifier whose penultimate activations serve as FID/KID features.

    Trained by the evaluation on the real images of the data set being evaluated (see `train_feature_classifier`),
    so FID/KID work offline, and its predictions check that generated images show the class they were asked for.

    Args:
        in_channels (`int`, defaults to 1): image channels.
        num_classes (`int`, defaults to 10): classes it predicts.
        block_out_channels (`tuple[int]`, defaults to `(32, 64, 128)`): width of each stage; every stage after the
            first halves the resolution. The last width is the feature dimension.
        norm_num_groups (`int`, defaults to 8): GroupNorm groups.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        block_out_channels: tuple[int, ...] = (32, 64, 128),
        norm_num_groups: int = 8,
    ):
        super().__init__()
        check_positive_int("num_classes", num_classes)
        layers = []
        channels = in_channels
        for i, width in enumerate(block_out_channels):
            layers += [
                nn.Conv2d(channels, width, 3, stride=1 if i == 0 else 2, padding=1),
                nn.GroupNorm(norm_num_groups, width),
                nn.SiLU(),
                nn.Conv2d(width, width, 3, padding=1),
                nn.GroupNorm(norm_num_groups, width),
                nn.SiLU(),
            ]
            channels = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels, num_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate features, `(B, block_out_channels[-1])`, of images `(B, C, H, W)` in [0, 1] (any size)."""
        return self.body(images * 2 - 1).mean((2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits `(B, num_classes)` of images `(B, C, H, W)` in [0, 1]."""
        return self.head(self.features(images))


@dataclass
class FeatureClassifierTraining(BaseOutput):
    """What `train_feature_classifier` did.

    Args:
        steps (`int`): optimizer steps taken (fewer than asked when `max_seconds` ran out).
        seconds (`float`): training time.
        train_accuracy (`float`): accuracy on the training images after training, in [0, 1].
    """

    steps: int
    seconds: float
    train_accuracy: float


@torch.no_grad()
def predict_in_batches(
    function: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """Apply `function` to `images` (`(N, ...)`, on any device) batch by batch; returns the outputs on the CPU."""
    return torch.cat([function(images[i : i + batch_size]).cpu() for i in range(0, images.shape[0], batch_size)], 0)


def train_feature_classifier(
    model: FeatureClassifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    num_steps: int = 500,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    max_seconds: float | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> FeatureClassifierTraining:
    """Train `model` in place with AdamW and a cosine schedule on `images` and their `labels`.

    Args:
        model (`FeatureClassifier`): the classifier, on the device to train on.
        images (`torch.Tensor` of shape `(N, C, H, W)`): real images in [0, 1].
        labels (`torch.Tensor` of shape `(N,)`, int64): classes in `[0, num_classes)`.
        num_steps (`int`, defaults to 500): optimizer steps.
        batch_size (`int`, defaults to 64): images per step.
        learning_rate (`float`, defaults to 2e-3): peak learning rate.
        max_seconds (`float`, *optional*): stop early after this much time.
        generator (`torch.Generator`, *optional*): CPU generator for the batch draws.
        progress (`bool`, defaults to `True`): show a progress bar over the steps.

    Returns:
        `FeatureClassifierTraining`. The model is left in eval mode.
    """
    if images.ndim != 4 or labels.shape != (images.shape[0],):
        raise ValueError(
            f"Expected images (N, C, H, W) and labels (N,), got {tuple(images.shape)} and {tuple(labels.shape)}."
        )
    check_positive_int("num_steps", num_steps)
    num_classes = model.config.num_classes
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"`labels` must lie in [0, {num_classes}), got values in [{labels.min()}, {labels.max()}].")
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps)
    model.train()
    start = time.perf_counter()
    steps = 0
    for _ in tqdm(range(num_steps), desc="Feature classifier", leave=False, disable=not progress):
        index = torch.randint(0, images.shape[0], (min(batch_size, images.shape[0]),), generator=generator)
        logits = model(images[index].to(device))
        loss = F.cross_entropy(logits, labels[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        steps += 1
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    model.eval()
    predictions = predict_in_batches(lambda batch: model(batch.to(device)).argmax(1), images)
    return FeatureClassifierTraining(
        steps=steps,
        seconds=time.perf_counter() - start,
        train_accuracy=float((predictions == labels.cpu()).double().mean()),
    )


class ImageFeatureExtractor(nn.Module):
    """Wraps a feature network so that it takes images `(B, C, H, W)` in [0, 1] and returns features `(B, D)`.

    Args:
        network (`nn.Module` or a TorchScript module): the feature network.
        input_range (`str`, defaults to `"unit"`): what the network expects: `"unit"` ([0, 1], unchanged),
            `"symmetric"` ([-1, 1]) or `"uint8"` ([0, 255] floats, as the StyleGAN / clean-fid Inception network).
        rgb (`bool`, defaults to `False`): repeat single-channel images to 3 channels first.
        call_kwargs (`dict`, *optional*): extra keyword arguments of the network's forward
            (`{"return_features": True}` for the TorchScript Inception network).
        name (`str`, *optional*): a description for reports.
    """

    def __init__(
        self,
        network: nn.Module,
        input_range: str = "unit",
        rgb: bool = False,
        call_kwargs: dict | None = None,
        name: str | None = None,
    ):
        super().__init__()
        if input_range not in ("unit", "symmetric", "uint8"):
            raise ValueError(f"Unknown `input_range` {input_range!r}; choose 'unit', 'symmetric' or 'uint8'.")
        self.network = network
        self.input_range = input_range
        self.rgb = rgb
        self.call_kwargs = dict(call_kwargs or {})
        self.name = name or type(network).__name__

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.rgb and images.shape[1] == 1:
            images = images.repeat(1, 3, 1, 1)
        if self.input_range == "symmetric":
            images = images * 2 - 1
        elif self.input_range == "uint8":
            images = (images * 255).round()
        output = self.network(images, **self.call_kwargs)
        if not isinstance(output, torch.Tensor):
            raise ValueError(f"The feature network {self.name} returned {type(output).__name__}, not a tensor.")
        return output.reshape(output.shape[0], -1).float()


def load_module(spec: str) -> nn.Module:
    """Load a network from a TorchScript file path or a Python path `module:attr`.

    Args:
        spec (`str`): a path to a TorchScript file (`torch.jit.save`), or `package.module:name` where `name` is an
            `nn.Module` instance, or a class / function that builds one without arguments.

    Returns:
        The module, in eval mode.
    """
    if os.path.isfile(spec):
        module = torch.jit.load(spec, map_location="cpu")
    elif ":" in spec:
        module_name, _, attribute = spec.rpartition(":")
        try:
            obj = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"Cannot load {spec!r}: {error}") from error
        module = obj if isinstance(obj, nn.Module) else obj() if callable(obj) else obj
        if not isinstance(module, nn.Module):
            raise ValueError(f"{spec!r} is neither an nn.Module nor a function or class that returns one.")
    else:
        raise ValueError(f"{spec!r} is neither an existing TorchScript file nor a Python path 'module:attr'.")
    return module.eval()


def load_feature_extractor(spec: str) -> ImageFeatureExtractor:
    """Build the FID/KID feature extractor the user names.

    Args:
        spec (`str`):
            * `inception:PATH`: the TorchScript Inception-v3 of the StyleGAN / clean-fid tools
              (`inception-2015-12-05.pt`), called on 3-channel [0, 255] images with `return_features=True`
              (2048 features; it resizes to 299x299 itself) — the standard FID features.
            * a path to any TorchScript file, or a Python path `module:attr` (see `load_module`): called on images
              `(B, C, H, W)` in [0, 1]; its output is flattened to `(B, D)`.

    Returns:
        `ImageFeatureExtractor` in eval mode, on the CPU.
    """
    if spec.startswith("inception:"):
        path = spec[len("inception:") :]
        if not os.path.isfile(path):
            raise ValueError(f"Inception weights {path!r} not found; pass the TorchScript inception-2015-12-05.pt.")
        network = torch.jit.load(path, map_location="cpu").eval()
        return ImageFeatureExtractor(
            network, input_range="uint8", rgb=True, call_kwargs={"return_features": True}, name=f"inception ({path})"
        )
    return ImageFeatureExtractor(load_module(spec), name=spec).eval()
