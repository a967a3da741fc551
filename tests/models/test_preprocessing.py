"""Fixed, position-independent preprocessing transforms."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from memorynet.models import preprocessing


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (4, 3, 12, 12)).astype(np.uint8)


def test_scale_and_raw(images):
    assert preprocessing.scale_pixels(images).max() <= 1.0
    np.testing.assert_array_equal(preprocessing.raw_pixels(images), images.astype(np.float32))
    with pytest.raises(ValueError, match="pixel_max"):
        preprocessing.scale_pixels(images, 0)


def test_standardize_gives_zero_mean_unit_std(images):
    out = preprocessing.standardize_images(images)
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-4)


def test_grayscale_and_opponent_channels(images):
    assert preprocessing.grayscale(images).shape == (4, 1, 12, 12)
    opp = preprocessing.opponent_colors(images)
    x = images.astype(np.float32) / 255
    np.testing.assert_allclose(opp[:, 1], x[:, 0] - x[:, 1], atol=1e-6)
    np.testing.assert_allclose(opp[:, 2], (x[:, 0] + x[:, 1]) / 2 - x[:, 2], atol=1e-6)
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        preprocessing.opponent_colors(images[:, :1])


def test_difference_of_gaussians_is_centre_minus_surround(images):
    x = images.astype(np.float32) / 255
    expected = gaussian_filter(x[0, 1], 1.0) - gaussian_filter(x[0, 1], 2.0)
    np.testing.assert_allclose(preprocessing.difference_of_gaussians(images)[0, 1], expected, atol=1e-5)
    flat = np.full((1, 1, 12, 12), 100, dtype=np.uint8)  # no contrast, no response
    np.testing.assert_allclose(preprocessing.difference_of_gaussians(flat), 0, atol=1e-6)


def test_lcn_removes_local_brightness_and_contrast(images):
    out = preprocessing.local_contrast_normalize(images)
    brighter = preprocessing.local_contrast_normalize(np.clip(images.astype(int) // 2 + 60, 0, 255))
    assert np.isfinite(out).all()
    assert np.corrcoef(out.ravel(), brighter.ravel())[0, 1] > 0.95


def test_chains_and_unknown_names(images):
    chained = preprocessing.apply("opponent+standardize", images, 255)
    np.testing.assert_allclose(chained, preprocessing.standardize_images(preprocessing.opponent_colors(images), 1.0))
    with pytest.raises(ValueError, match="unknown preprocessing 'blur'"):
        preprocessing.apply("scale+blur", images, 255)
