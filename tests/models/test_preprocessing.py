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


def test_deskew_straightens_a_slanted_stroke_and_centres_it(monkeypatch):
    stroke = np.zeros((2, 1, 21, 21), dtype=np.uint8)
    for row in range(3, 18):  # a line leaning right by a pixel every 3 rows, off centre; and a blank image
        stroke[0, 0, row, 2 + row // 3] = 255
    before = preprocessing.shear_moments(stroke.astype(np.float64))
    out = preprocessing.deskew(stroke)
    centre_row, centre_col, slant = preprocessing.shear_moments(out)
    assert out.dtype == np.float32 and out.shape == stroke.shape and out.max() <= 1.0
    assert abs(before[2][0]) > 0.3 and abs(slant[0]) < 0.02  # slanted before, upright after
    np.testing.assert_allclose([centre_row[0], centre_col[0]], 10, atol=0.1)  # centre of mass at the centre
    np.testing.assert_allclose(out.sum(axis=(1, 2, 3))[0], stroke[0].sum() / 255, rtol=0.02)  # nothing lost
    assert not out[1].any() and slant[1] == 0  # an empty image stays empty
    monkeypatch.setattr(preprocessing, "DESKEW_CHUNK", 1)  # chunks change nothing
    np.testing.assert_array_equal(preprocessing.deskew(stroke), out)


def test_chains_and_unknown_names(images):
    chained = preprocessing.apply("opponent+standardize", images, 255)
    np.testing.assert_allclose(chained, preprocessing.standardize_images(preprocessing.opponent_colors(images), 1.0))
    with pytest.raises(ValueError, match="unknown preprocessing 'blur'"):
        preprocessing.apply("scale+blur", images, 255)


@pytest.mark.parametrize("chain", ["scale", "dog+standardize", "deskew+lcn+standardize", "opponent+standardize",
                                   "grayscale+dog"])
def test_chunks_on_threads_give_the_whole_arrays_result_bit_for_bit(monkeypatch, chain):
    X = np.random.default_rng(0).integers(0, 256, (50, 3, 12, 12)).astype(np.uint8)
    whole = preprocessing._chain(preprocessing.check_chain(chain), X, 255.0)
    monkeypatch.setattr(preprocessing, "PARALLEL_CHUNK", 7)  # 8 chunks, the last one short
    chunked = preprocessing.apply(chain, X, 255.0)
    assert chunked.dtype == whole.dtype and np.array_equal(chunked, whole)
