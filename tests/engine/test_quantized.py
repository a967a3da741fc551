"""The int8 search path: its shortlist is certified, so it finds the float32 path's nearest neuron."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import numpy as np
import pytest

from memorynet import LocalReceptiveFieldClassifier, MemoryNetworkClassifier, NeuronBank, scale_pixels
from memorynet.engine import kernels, quantized
from memorynet.engine.searchers import Int8Searcher, NumpySearcher, make_searcher


@pytest.fixture(autouse=True)
def _int8_here():
    """The path needs PyTorch and VNNI/AMX; CI's machine has both (.ci/run installs the CPU build of torch)."""
    if not quantized.int8_available():
        message = ("the int8 search path is unavailable here: it needs PyTorch (pip install torch==2.13.0, the CPU "
                   "build) and a CPU with VNNI or AMX")
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI must test it")
        pytest.skip(message)


def _search(X, M):
    return quantized.nearest_one_l2_int8(X, M, quantized.Int8Bank.build(M))


def _cases():
    rng = np.random.default_rng(0)
    base = rng.random((300, 40), dtype=np.float32)
    yield "uniform", rng.random((700, 40), dtype=np.float32), rng.random((90, 40), dtype=np.float32)
    yield "standardised with outliers", rng.standard_normal((700, 40)).astype(np.float32) * \
        np.where(rng.random((700, 40)) < 0.01, 30, 1).astype(np.float32), \
        rng.standard_normal((90, 40)).astype(np.float32)
    yield "tiny scale", rng.random((500, 40), dtype=np.float32) * 1e-6, rng.random((60, 40), dtype=np.float32) * 1e-6
    yield "offset", rng.random((500, 40), dtype=np.float32) + 10, rng.random((60, 40), dtype=np.float32) + 10
    # near-duplicates: hundreds of neurons within the quantisation error of each other, so the shortlist decides
    near = np.repeat(base[:20], 30, axis=0) + rng.standard_normal((600, 40)).astype(np.float32) * 1e-3
    yield "near-duplicates", near, base[:20] + rng.standard_normal((20, 40)).astype(np.float32) * 1e-3
    yield "exact duplicates", np.repeat(base[:30], 4, axis=0), np.vstack([base[:30], np.zeros((3, 40), np.float32)])
    yield "constant columns", np.hstack([base, np.full((300, 5), 7, np.float32)]), \
        np.hstack([rng.random((50, 40), dtype=np.float32), np.full((50, 5), 7, np.float32)])


@pytest.mark.parametrize("name, M, X", list(_cases()), ids=[c[0] for c in _cases()])
def test_the_nearest_neuron_is_the_float32_paths(name, M, X):
    found = _search(X, M)
    expected = kernels.nearest_one_l2(X, M, kernels.row_sq_norms(M))
    exact = ((X.astype(np.float64)[:, None, :] - M.astype(np.float64)[None]) ** 2).sum(-1)
    rows = np.arange(len(X))
    # the re-ranking is exact: the neuron found is the nearest in float64 (to its own rounding)
    assert (exact[rows, found[1][:, 0]] <= exact.min(axis=1) * (1 + 1e-12) + 1e-300).all()
    gap = np.abs(exact[rows, found[1][:, 0]] - exact[rows, expected[1][:, 0]])
    # the paths may differ only where float32 itself cannot order the two neurons: a gap within its rounding
    x_norm, m_norm = np.linalg.norm(X, axis=1), np.linalg.norm(M, axis=1).max()
    rounding = 4 * X.shape[1] * 2.0**-24 * (2 * x_norm * m_norm + m_norm**2)
    differ = found[1][:, 0] != expected[1][:, 0]
    assert (gap[differ] <= rounding[differ]).all(), (name, gap[differ], rounding[differ])
    assert differ.mean() <= (0.3 if name == "near-duplicates" else 0)
    np.testing.assert_allclose(found[0], expected[0], rtol=1e-4, atol=1e-4 * float(np.abs(M).max()) ** 2)


@pytest.mark.parametrize("name, M, X", list(_cases()), ids=[c[0] for c in _cases()])
def test_class_distances_are_exact(name, M, X):
    """The nearest neuron of every class: the exact distance, so the float32 path's up to its rounding; a class
    without neurons (here class 5 of 7) is ``inf``."""
    classes = np.random.default_rng(3).choice([0, 1, 2, 3, 4, 6], len(M))
    found = quantized.nearest_per_class_l2_int8(X, M, quantized.Int8Bank.build(M, classes), 7)
    expected = kernels.nearest_per_class(X, M, classes, 7)
    exact = ((X.astype(np.float64)[:, None, :] - M.astype(np.float64)[None]) ** 2).sum(-1)
    for c in range(7):
        if c == 5:
            assert np.isinf(found[:, c]).all()
            continue
        np.testing.assert_array_equal(found[:, c], exact[:, classes == c].min(axis=1).astype(np.float32))
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-4 * float(np.abs(M).max()) ** 2)


def test_class_runs_longer_than_a_tile():
    """Classes of several tiles and of fewer neurons than a block, in one bank, queries in several tiles and in
    two chunks (each quantised at its own scale)."""
    rng = np.random.default_rng(4)
    classes = rng.permutation(np.r_[np.zeros(9000, np.intp), np.ones(5, np.intp), np.full(4200, 2)])
    M = rng.standard_normal((len(classes), 24)).astype(np.float32)
    X = M[rng.choice(len(M), 2100)] + rng.standard_normal((2100, 24)).astype(np.float32) * 0.1
    X[2048:] *= 3  # the second chunk's scale differs
    found = quantized.nearest_per_class_l2_int8(X, M, quantized.Int8Bank.build(M, classes), 3)
    np.testing.assert_allclose(found, kernels.nearest_per_class(X, M, classes, 3), rtol=1e-4, atol=1e-4)  # float32's


def test_no_queries_no_answers():
    distances, rows = _search(np.empty((0, 8), np.float32), np.eye(8, dtype=np.float32))
    assert distances.shape == rows.shape == (0, 1)


def test_exact_ties_go_to_the_lower_row():
    M = np.tile(np.eye(8, dtype=np.float32), (3, 1))  # every row three times
    distances, rows = _search(np.eye(8, dtype=np.float32), M)
    np.testing.assert_array_equal(rows[:, 0], np.arange(8))
    np.testing.assert_array_equal(distances[:, 0], 0)


def test_integer_overflow_is_left_to_the_float32_path():
    rng = np.random.default_rng(1)
    M, X = rng.random((3, 70000), dtype=np.float32), rng.random((2, 70000), dtype=np.float32)  # 70000 * 127^2 > 2^30
    assert _search(X, M) is None
    bank = NeuronBank(70000, 10)
    bank.append(M, np.arange(3))
    searcher = Int8Searcher().attach(bank)
    np.testing.assert_array_equal(searcher.nearest(X)[1], NumpySearcher().attach(bank).nearest(X)[1])


def _small_bank(seed):
    """A bank of 40 neurons of 4 classes with an int8 and a NumPy searcher, and 25 queries."""
    rng = np.random.default_rng(seed)
    bank = NeuronBank(16, 100)
    bank.append(rng.random((40, 16), dtype=np.float32), np.arange(40) % 4)
    return bank, Int8Searcher().attach(bank), NumpySearcher().attach(bank), rng.random((25, 16), dtype=np.float32)


def test_the_codes_follow_the_bank():
    bank, searcher, reference, X = _small_bank(2)
    np.testing.assert_array_equal(searcher.nearest(X)[1], reference.nearest(X)[1])
    bank.update_rows(np.arange(10), X[:10] + 1e-4, np.full(10, 3))  # the nearest neurons move onto the queries
    bank.append(X[10:] * 0.999, np.zeros(15, dtype=np.intp))
    np.testing.assert_array_equal(searcher.nearest(X)[1], reference.nearest(X)[1])
    np.testing.assert_array_equal(searcher.nearest(X)[1][:, 0], np.r_[np.arange(10), 40 + np.arange(15)])


def test_auto_takes_int8_for_large_banks_only(monkeypatch):
    assert isinstance(make_searcher("auto"), Int8Searcher)
    assert make_searcher("auto").min_neurons == quantized.MIN_NEURONS
    assert not make_searcher("auto").per_class and make_searcher("int8").per_class  # class distances: asked for
    monkeypatch.setenv("MEMORYNET_NO_INT8", "1")
    quantized.int8_instructions.cache_clear()
    quantized.int8_available.cache_clear()
    try:
        assert type(make_searcher("auto")) is NumpySearcher
        with pytest.raises(ImportError, match="search_backend='auto'"):
            make_searcher("int8")
    finally:
        monkeypatch.delenv("MEMORYNET_NO_INT8")
        quantized.int8_instructions.cache_clear()
        quantized.int8_available.cache_clear()


def test_auto_imports_pytorch_only_for_a_large_bank():
    """A small model under search_backend='auto' never pays PyTorch's import (seconds in every command)."""
    script = ("import sys\nimport numpy as np\nfrom memorynet import MemoryNetworkClassifier\n"
              "X = np.random.default_rng(0).random((300, 16), dtype=np.float32)\ny = np.arange(300) % 3\n"
              "model = MemoryNetworkClassifier(100, random_state=0).fit(X, y)\nmodel.predict(X)\n"
              "assert 'torch' not in sys.modules, 'small bank'\n"
              "big = MemoryNetworkClassifier(9000, random_state=0).fit(np.repeat(X, 30, axis=0), np.repeat(y, 30))\n"
              "big.predict(X)\n"
              "assert 'torch' in sys.modules, 'large bank'\n")
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=300)


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_paper_model_predictions_are_identical_to_float32(request, dataset):
    """A memory of 10000 neurons that fills and moves; the full memories (1-NN, the exact reference checks) are
    compared in tests/models/test_reduction.py."""
    ds = request.getfixturevalue(dataset)
    X = scale_pixels(ds.X_train).reshape(len(ds.X_train), -1)
    X_test = scale_pixels(ds.X_test).reshape(len(ds.X_test), -1)
    plain = MemoryNetworkClassifier(10000, random_state=0, search_backend="numpy").fit(X, ds.y_train)
    int8 = MemoryNetworkClassifier(10000, random_state=0, search_backend="int8").fit(X, ds.y_train)
    np.testing.assert_array_equal(int8.memories_, plain.memories_)  # training's searches are NumPy's
    np.testing.assert_array_equal(int8.predict(X_test), plain.predict(X_test))


def test_class_distances_follow_the_bank():
    bank, searcher, reference, X = _small_bank(5)
    np.testing.assert_allclose(searcher.nearest_per_class(X, 5), reference.nearest_per_class(X, 5), atol=1e-5)
    bank.update_rows(np.arange(10), X[:10], np.full(10, 3))  # ten neurons move onto queries
    bank.append(X[10:15], np.full(5, 4))  # class 4 appears, on five queries
    found = searcher.nearest_per_class(X, 5)
    np.testing.assert_allclose(found, reference.nearest_per_class(X, 5), atol=1e-5)
    np.testing.assert_array_equal(found[np.arange(10), np.arange(10) % 4], 0)
    np.testing.assert_array_equal(found[10:15, 4], 0)


def test_receptive_field_predictions_are_the_float32_paths(mnist):
    """Banks of 27000 neurons (every jittered patch of 3000 digits) searched by the int8 class distances: they
    equal the float32 path's to its rounding, and so do the predictions."""
    X, X_test = scale_pixels(mnist.X_train[:3000]), scale_pixels(mnist.X_test[:2000])
    plain = LocalReceptiveFieldClassifier(patch_size=10, stride=6, patch_jitter=1, max_neurons=30000,
                                          search_backend="numpy").fit(X, mnist.y_train[:3000])
    int8 = copy.deepcopy(plain).set_params(search_backend="int8")  # "auto" leaves class distances to NumPy
    assert min(len(bank) for bank in int8.banks_) >= quantized.MIN_NEURONS
    np.testing.assert_allclose(int8.class_distances(X_test), plain.class_distances(X_test), rtol=1e-5, atol=1e-3)
    assert all(isinstance(s, Int8Searcher) for s in int8._searchers())
    assert isinstance(plain.set_params(search_backend="int8")._searchers()[0], Int8Searcher)  # fitted: new engine
    np.testing.assert_array_equal(int8.predict(X_test), plain.predict(X_test))
    assert isinstance(plain.set_params(search_backend="int8")._searchers()[0], Int8Searcher)  # a fitted model too
