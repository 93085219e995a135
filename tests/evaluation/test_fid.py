import sys
import types

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from diffusers_symmflow.evaluation import (
    FeatureClassifier,
    FeatureStats,
    ImageFeatureExtractor,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_inception_distance,
    load_feature_extractor,
    train_feature_classifier,
)


def _feature_module() -> ImageFeatureExtractor:
    torch.manual_seed(0)
    network = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.Tanh(), nn.Flatten(), nn.Linear(4 * 7 * 7, 12))
    return ImageFeatureExtractor(network)


def _stats(extractor, images, batch_size=32) -> FeatureStats:
    stats = FeatureStats()
    for i in range(0, images.shape[0], batch_size):
        stats.update(extractor(images[i : i + batch_size]))
    return stats


def test_feature_stats_over_batches_match_numpy_even_far_from_the_origin():
    # An offset of 1e6 ruins covariances taken from raw sums of squares (float64 keeps ~16 digits); the pairwise
    # update must still agree with numpy's two-pass np.cov.
    rng = np.random.default_rng(0)
    features = 1e6 + rng.normal(size=(103, 5)) * np.arange(1, 6)
    stats = FeatureStats()
    for chunk in np.array_split(features, [1, 40, 41, 90]):
        stats.update(torch.from_numpy(chunk))
    assert stats.num_samples == 103 and stats.dim == 5
    np.testing.assert_allclose(stats.mean(), features.mean(0), rtol=1e-14)
    np.testing.assert_allclose(stats.covariance(), np.cov(features, rowvar=False), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(stats.features(), features)
    with pytest.raises(ValueError, match="dimensions"):
        stats.update(np.zeros((2, 4)))


def test_frechet_distance_of_diagonal_gaussians_by_hand():
    # Diagonal covariances: FID = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
    # mu diff (1, 2) -> 5; variances (4, 9) vs (1, 1) -> (2 - 1)^2 + (3 - 1)^2 = 5; total 10.
    value = frechet_distance(np.array([1.0, 2.0]), np.diag([4.0, 9.0]), np.zeros(2), np.eye(2))
    assert value == pytest.approx(10.0, rel=1e-12)


def test_frechet_distance_matches_scipy_sqrtm_on_full_covariances():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 6)), rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    reference = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-8)


def test_frechet_distance_with_singular_covariances_is_finite():
    # 5 samples in 12 dimensions: rank-4 covariances, where a plain matrix square root runs into trouble.
    rng = np.random.default_rng(2)
    a = FeatureStats()
    a.update(rng.normal(size=(5, 12)))
    b = FeatureStats()
    b.update(rng.normal(size=(5, 12)) + 1)
    assert np.isfinite(frechet_distance_from_stats(a, b)) and frechet_distance_from_stats(a, b) > 10
    assert frechet_distance_from_stats(a, a) < 1e-9 * np.trace(a.covariance())


def test_fid_and_kid_are_zero_for_identical_sets_and_grow_with_a_shift():
    extractor = _feature_module()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(128, 1, 16, 16, generator=generator)
    real = _stats(extractor, images)
    scale = np.trace(real.covariance())

    same = _stats(extractor, images, batch_size=17)  # the same images in other batches
    assert frechet_distance_from_stats(real, same) < 1e-6 * scale
    kid_same = kernel_inception_distance(real, same, num_subsets=20, subset_size=100).mean
    other = _stats(extractor, torch.rand(128, 1, 16, 16, generator=generator))  # a second draw, same distribution
    kid_other = kernel_inception_distance(real, other, num_subsets=20, subset_size=100).mean

    fids, kids = [], []
    for shift in (0.1, 0.2, 0.4):
        shifted = _stats(extractor, images + shift)
        fids.append(frechet_distance_from_stats(real, shifted))
        kids.append(kernel_inception_distance(real, shifted, num_subsets=20, subset_size=100).mean)
    assert fids[0] > 1e-3 * scale
    assert fids[0] < fids[1] < fids[2]
    assert kids[0] > 0 and kids[0] < kids[1] < kids[2]
    # The unbiased MMD^2 of one distribution against itself is about 0 (slightly negative when subsets overlap).
    assert abs(kid_same) < 0.5 * kids[0] and abs(kid_other) < 0.5 * kids[0]


def test_kid_by_hand():
    # x = {0, 1}, y = {1, 2} in 1-D, k(a, b) = (a b + 1)^3; subsets of 2 are the whole sets.
    # Within x: k(0, 1) = 1 (two off-diagonal entries, / (2 * 1)) -> 1. Within y: k(1, 2) = 27 -> 27.
    # Across: k(0,1) + k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37, mean 9.25.
    # MMD^2 = 1 + 27 - 2 * 9.25 = 9.5.
    kid = kernel_inception_distance(np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]]), num_subsets=3)
    assert kid.mean == pytest.approx(9.5) and kid.std == pytest.approx(0.0)
    with pytest.raises(ValueError, match="at least 2"):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def test_load_feature_extractor_from_a_python_path_and_from_torchscript(tmp_path, monkeypatch):
    module = types.ModuleType("fid_test_features")
    module.build = lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    monkeypatch.setitem(sys.modules, "fid_test_features", module)
    images = torch.rand(2, 1, 4, 4)
    extractor = load_feature_extractor("fid_test_features:build")
    assert extractor(images).shape == (2, 3)

    scripted = torch.jit.script(nn.Sequential(nn.Conv2d(1, 5, 4)))  # output (B, 5, 1, 1) is flattened to (B, 5)
    path = tmp_path / "features.pt"
    scripted.save(str(path))
    assert load_feature_extractor(str(path))(images).shape == (2, 5)

    with pytest.raises(ValueError, match="neither an existing TorchScript file"):
        load_feature_extractor(str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="Cannot load"):
        load_feature_extractor("fid_test_features:nothing_here")


class _FakeInception(nn.Module):
    """Stands in for the StyleGAN TorchScript Inception: records what it is given."""

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert return_features
        return torch.stack([x.shape[1] * torch.ones(x.shape[0]), x.amin((1, 2, 3)), x.amax((1, 2, 3))], 1)


def test_inception_spec_feeds_three_channel_images_in_0_255(tmp_path):
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.script(_FakeInception()).save(str(path))
    images = torch.zeros(2, 1, 8, 8)
    images[:, :, 0, 0] = 1.0
    features = load_feature_extractor(f"inception:{path}")(images)
    assert features.tolist() == [[3.0, 0.0, 255.0]] * 2
    with pytest.raises(ValueError, match="not found"):
        load_feature_extractor(f"inception:{tmp_path / 'missing.pt'}")


def test_feature_classifier_learns_and_round_trips(tmp_path):
    # Two classes that differ in brightness: a few steps must separate them.
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(64) % 2
    images = (0.2 + 0.6 * labels[:, None, None, None] + 0.1 * torch.rand(64, 1, 8, 8, generator=generator)).clamp(0, 1)
    torch.manual_seed(0)
    model = FeatureClassifier(in_channels=1, num_classes=2, block_out_channels=(8, 16))
    report = train_feature_classifier(model, images, labels, num_steps=30, batch_size=16, generator=generator)
    assert report.steps == 30 and report.train_accuracy == 1.0
    assert model.features(images).shape == (64, 16)

    model.save_pretrained(tmp_path / "classifier")
    loaded = FeatureClassifier.from_pretrained(tmp_path / "classifier")
    torch.testing.assert_close(loaded(images), model(images))
    with pytest.raises(ValueError, match="labels"):
        train_feature_classifier(model, images, labels + 1, num_steps=1)
