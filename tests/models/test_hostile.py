"""Hostile and bad input: every case ends in a correct result or a clear ValueError / TypeError."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import memorynet
from memorynet import MemoryNetworkClassifier
from memorynet.models.persistence import ModelFileError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
dtypes = st.sampled_from([np.uint8, np.int16, np.int64, np.float16, np.float32, np.float64, np.bool_])


def arrays_2d(dtype=dtypes, min_rows=0):
    shapes = st.tuples(st.integers(min_rows, 12), st.integers(1, 6))
    return dtypes.flatmap(lambda d: hnp.arrays(d, shapes))


def fit_outcome(model, X, y):
    """Fit and predict; return the model, or the exception if it was an acceptable one."""
    try:
        model.fit(X, y)
        predictions = model.predict(X)
    except (ValueError, TypeError) as exc:
        assert str(exc), "an error must say what is wrong"
        return exc
    assert len(predictions) == len(X)
    assert set(np.unique(predictions)) <= set(np.unique(y))
    assert model.counters_.sum() == len(X) and np.isfinite(model.memories_).all()
    return model


@FAST
@given(X=arrays_2d(), labels=st.lists(st.integers(-3, 3), min_size=0, max_size=12),
       max_neurons=st.integers(1, 20), batch_size=st.integers(1, 5), threshold=st.none() | st.floats(0, 5))
def test_fit_on_anything_ends_in_a_model_or_a_clear_error(X, labels, max_neurons, batch_size, threshold):
    model = MemoryNetworkClassifier(max_neurons, batch_size=batch_size, threshold=threshold)
    fit_outcome(model, X, np.array(labels, dtype=np.int64))


@FAST
@given(X=hnp.arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 4)),
                    elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_nan_inf_and_huge_values_are_refused_or_handled(X):
    result = fit_outcome(MemoryNetworkClassifier(10), X, np.arange(len(X)) % 2)
    if not np.isfinite(X.astype(np.float32)).all():
        assert isinstance(result, ValueError) and ("NaN" in str(result) or "infinity" in str(result))


@FAST
@given(n=st.integers(1, 10), labels=st.lists(st.text(min_size=0, max_size=3), min_size=1, max_size=10))
def test_string_labels_and_single_class(n, labels):
    X = np.random.default_rng(0).random((len(labels), 3))
    result = fit_outcome(MemoryNetworkClassifier(max(n, len(set(labels)))), X, np.array(labels))
    assert not isinstance(result, Exception)


@FAST
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5)),
       other=st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5)))
def test_images_of_the_wrong_size_are_refused(shape, other):
    rng = np.random.default_rng(0)
    model = MemoryNetworkClassifier(5).fit(rng.random((6, *shape)), np.arange(6) % 2)
    queries = rng.random((2, *other))
    if other == shape:
        assert len(model.predict(queries)) == 2
    else:
        with pytest.raises(ValueError, match="shape|features"):
            model.predict(queries)


@pytest.mark.parametrize("X, y, message", [
    (np.zeros((0, 3)), np.zeros(0), "0 sample"),
    (np.zeros((3, 0)), np.zeros(3), "0 feature"),
    (np.zeros((4, 2)), np.zeros(3), "inconsistent numbers of samples"),
    (np.zeros((3, 2)), np.array([0.5, 1.5, 2.5]), "Unknown label type"),
    (np.array([["a", "b"]]), np.zeros(1), "could not convert|dtype"),
    (np.zeros(5), np.zeros(5), "Expected 2D array"),
])
def test_malformed_input_names_the_problem(X, y, message):
    with pytest.raises(ValueError, match=message):
        MemoryNetworkClassifier(5).fit(X, y)


@pytest.mark.parametrize("params", [
    {"max_neurons": 0}, {"max_neurons": -5}, {"max_neurons": 2.5}, {"threshold": -1.0}, {"batch_size": 0},
    {"n_neighbors": 0}, {"distance": "l7"}, {"p": 0.5}, {"weights": "heavy"}, {"new_label_policy": "maybe"},
])
def test_bad_parameters_name_the_parameter(params):
    with pytest.raises(ValueError, match=f"'{next(iter(params))}' parameter"):
        MemoryNetworkClassifier(**params).fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_max_neurons_below_the_number_of_classes():
    with pytest.raises(ValueError, match="smaller than the number of classes"):
        MemoryNetworkClassifier(2).fit(np.zeros((3, 2)), [0, 1, 2])


def test_sparse_input_is_refused_with_a_type_error():
    from scipy.sparse import csr_matrix

    with pytest.raises(TypeError, match="[Ss]parse"):
        MemoryNetworkClassifier(5).fit(csr_matrix(np.eye(4)), [0, 1, 0, 1])


@FAST
@given(blob=st.binary(min_size=0, max_size=400))
def test_loading_random_bytes_is_refused(blob, tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "m.mnet"
    path.write_bytes(blob)
    with pytest.raises(ModelFileError):
        MemoryNetworkClassifier.load(path)


@FAST
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000))
def test_damaged_model_files_are_refused_or_identical(cut, flip, tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.random((30, 4), dtype=np.float32)
    model = MemoryNetworkClassifier(10, random_state=0).fit(X, np.arange(30) % 3)
    path = model.save(tmp_path_factory.mktemp("hostile") / "m.mnet")
    data = bytearray(path.read_bytes())
    data[flip % len(data)] ^= 0xFF
    path.write_bytes(bytes(data[: len(data) - cut % 50]))
    try:
        loaded = MemoryNetworkClassifier.load(path)
    except ModelFileError:
        return
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))  # a harmless byte (zip padding)


def test_values_that_would_overflow_the_distances_are_refused():
    with pytest.raises(ValueError, match="would overflow"):
        MemoryNetworkClassifier(5).fit(np.full((4, 2), 1e30), [0, 1, 0, 1])


@pytest.mark.parametrize("make, message", [
    (lambda: memorynet.MemoryNetworkClassifier(10, distance="lp", p=1e308), "'p' parameter"),
    (lambda: memorynet.MemoryNetworkClassifier(10, image_shape=(True, 8, 8)), r"image_shape=\(True, 8, 8\)"),
    (lambda: memorynet.LocalReceptiveFieldClassifier(4, 2, 10, image_shape=(1, 8.0, 8)), "image_shape"),
])
def test_numeric_parameters_outside_their_range_are_refused(make, message):
    X, y = np.random.default_rng(0).random((20, 64)), np.arange(20) % 2
    with pytest.raises(ValueError, match=message):
        make().fit(X, y)


@pytest.mark.parametrize("images", [np.full((2, 1, 8, 8), 300.0), np.full((2, 1, 8, 8), -1.0),
                                    np.full((2, 1, 8, 8), np.nan)])
def test_predict_meets_the_rules_of_fit(images):
    """A preset refuses at predict the intensities it refuses at fit (outside 0..pixel_max, or NaN)."""
    X = np.random.default_rng(0).integers(0, 256, (30, 1, 8, 8))
    model = memorynet.preset("paper", random_state=0, max_neurons=20).fit(X, np.arange(30) % 3)
    for call in (lambda: model.predict(images), lambda: memorynet.preset("paper").fit(images, [0, 1])):
        with pytest.raises(ValueError, match="intensities must lie in 0..pixel_max=255"):
            call()
