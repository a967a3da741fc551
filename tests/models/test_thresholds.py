"""threshold="quantile:q" / "auto": a growth threshold learnt in the pass from the first images, per bank, saved."""

import numpy as np
import pytest
from sklearn.utils import check_random_state

from memorynet import LocalReceptiveFieldClassifier, MemoryNetworkClassifier, load_model, save_model
from memorynet.io.model_files import ModelFileError, read_model_file, write_model_file
from memorynet.models.thresholds import AUTO_QUANTILE, WARMUP_IMAGES, parse_threshold, quantile_threshold


@pytest.fixture
def blobs():
    rng = np.random.default_rng(3)
    centers = rng.random((3, 16)) * 4
    y = rng.integers(0, 3, 2600)
    return (centers[y] + rng.normal(0, 0.5, (2600, 16))).astype(np.float32), y


@pytest.mark.parametrize("value, parsed", [(None, None), (0, ("distance", 0.0)), (2.5, ("distance", 2.5)),
                                           ("auto", ("quantile", AUTO_QUANTILE)), ("quantile:0.25", ("quantile", 0.25)),
                                           (" Quantile:1 ", ("quantile", 1.0))])
def test_the_forms_a_threshold_takes(value, parsed):
    assert parse_threshold(value) == parsed


@pytest.mark.parametrize("value", [-1.0, float("nan"), "quantile:1.5", "quantile:", "quantile:x", "median", True])
def test_other_thresholds_are_refused_with_the_forms(value, blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="'quantile:q' with q in"):
        MemoryNetworkClassifier(50, threshold=value).fit(X, y)


def test_a_quantile_is_the_distance_threshold_of_the_first_images_of_the_pass(blobs):
    X, y = blobs
    learnt = MemoryNetworkClassifier(60, threshold="quantile:0.3", random_state=0).fit(X, y)
    first = check_random_state(0).permutation(len(X))[:WARMUP_IMAGES]
    expected = quantile_threshold(X[first], y[first], 0.3)
    assert learnt.threshold_.shape == (1,) and learnt.threshold_[0] == pytest.approx(expected)
    fixed = MemoryNetworkClassifier(60, threshold=float(learnt.threshold_[0]), random_state=0).fit(X, y)
    np.testing.assert_array_equal(learnt.counters_, fixed.counters_)
    np.testing.assert_array_equal(learnt.memories_, fixed.memories_)
    assert fixed.threshold_ is None  # a distance is used as given


def test_a_quantile_threshold_does_not_depend_on_the_scale_of_the_data(blobs):
    X, y = blobs
    small = MemoryNetworkClassifier(60, threshold="auto", random_state=0).fit(X, y)
    large = MemoryNetworkClassifier(60, threshold="auto", random_state=0).fit(X * 256, y)  # exact in float32
    assert large.threshold_[0] == pytest.approx(small.threshold_[0] * 256 ** 2)  # squared L2
    np.testing.assert_array_equal(small.counters_, large.counters_)
    np.testing.assert_array_equal(small.predict(X), large.predict(X * 256))


def test_receptive_fields_learn_one_threshold_per_position(blobs):
    X, y = blobs
    images = X.reshape(-1, 4, 4)
    model = LocalReceptiveFieldClassifier(2, 2, 30, threshold="quantile:0.5", random_state=0).fit(images, y)
    first = check_random_state(0).permutation(len(X))[:WARMUP_IMAGES]
    expected = [quantile_threshold(images[first][:, r:r + 2, c:c + 2].reshape(len(first), -1), y[first], 0.5)
                for r, c in model.corners_]
    np.testing.assert_allclose(model.threshold_, expected, rtol=1e-6)
    assert len(set(model.threshold_.tolist())) > 1  # positions see different patches


def test_a_stream_learns_it_once_some_class_has_two_images_and_keeps_it(blobs, tmp_path):
    X, y = blobs
    one_each = [np.flatnonzero(y == c)[0] for c in range(3)]
    model = MemoryNetworkClassifier(60, threshold="auto").partial_fit(X[one_each], y[one_each])
    assert model.threshold_ is None  # no class has two images yet: growth as without a threshold
    model.partial_fit(X[:500], y[:500])
    expected = quantile_threshold(X[:500], y[:500], AUTO_QUANTILE)
    assert model.threshold_[0] == pytest.approx(expected)
    model.partial_fit(X[500:1000] * 3, y[500:1000])
    assert model.threshold_[0] == pytest.approx(expected)  # learnt once, from the first images
    save_model(model, tmp_path / "m.mnet")
    loaded, _ = load_model(tmp_path / "m.mnet")
    np.testing.assert_array_equal(loaded.threshold_, model.threshold_)
    fit_again = MemoryNetworkClassifier(60, threshold="auto", random_state=0).fit(X, y)
    assert fit_again.threshold_[0] != model.threshold_[0]  # fit starts afresh


@pytest.mark.parametrize("threshold", [np.array([-1.0]), np.array([np.inf]), np.array([1.0, 2.0])])
def test_a_model_file_with_a_threshold_that_does_not_fit_is_refused(blobs, tmp_path, threshold):
    X, y = blobs
    save_model(MemoryNetworkClassifier(60, threshold="auto", random_state=0).fit(X, y), tmp_path / "m.mnet")
    header, arrays = read_model_file(tmp_path / "m.mnet")
    header = {k: v for k, v in header.items() if k not in ("format", "format_version", "library_version", "sha256")}
    write_model_file(tmp_path / "bad.mnet", header, {**arrays, "state_threshold": threshold})
    with pytest.raises(ModelFileError, match="threshold.*(finite|per bank)"):
        load_model(tmp_path / "bad.mnet")
