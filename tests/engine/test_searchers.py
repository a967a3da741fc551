"""Searchers: every engine gives the NumPy searcher's neighbours, and stays right as the bank changes."""

import numpy as np
import pytest

from memorynet import MemoryNetworkClassifier, NeuronBank, scale_pixels
from memorynet.engine import quantized
from memorynet.engine.searchers import CountingSearcher, NumpySearcher, make_searcher

ENGINES = ["faiss", "torch", "int8"]
METRICS = ["l2", "l1", "cosine", "lp"]


def _bank(rng, n=90, width=20, n_classes=4):
    bank = NeuronBank(width, 1000)
    bank.append(rng.random((n, width), dtype=np.float32), np.arange(n) % n_classes)
    return bank


def _available(backend):
    module = "torch" if backend == "int8" else backend
    extra = {"torch": "pip install torch==2.13.0 (the CPU build; .ci/run installs it)",
             "faiss": "pip install 'memorynet[faiss]'"}[module]
    pytest.importorskip(module, reason=f"the {backend} search engine needs {module}: {extra}")
    if backend == "int8" and not quantized.int8_available():
        pytest.skip("no int8 dot-product instructions on this CPU")


def _pair(backend, metric, bank):
    _available(backend)
    return (NumpySearcher(metric, 3.0).attach(bank), make_searcher(backend, metric, 3.0).attach(bank))


def _same(found, expected):
    np.testing.assert_array_equal(found[1], expected[1])
    np.testing.assert_allclose(found[0], expected[0], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("backend", ENGINES)
@pytest.mark.parametrize("metric", METRICS)
def test_same_neighbours_as_numpy(backend, metric):
    rng = np.random.default_rng(0)
    bank = _bank(rng)
    reference, other = _pair(backend, metric, bank)
    X, x_classes = rng.random((60, 20), dtype=np.float32), np.arange(60) % 5  # class 4 has no neuron
    _same(other.nearest(X), reference.nearest(X))
    _same(other.nearest(X, 3), reference.nearest(X, 3))
    _same(other.nearest(X[:, 5:10], 2, slice(5, 10)), reference.nearest(X[:, 5:10], 2, slice(5, 10)))
    _same(other.nearest_same_label(X, x_classes), reference.nearest_same_label(X, x_classes))
    np.testing.assert_allclose(other.nearest_per_class(X, 5), reference.nearest_per_class(X, 5), rtol=1e-3,
                               atol=1e-4)


@pytest.mark.parametrize("backend", ENGINES)
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_searchers_follow_appends_updates_and_merges(backend, metric):
    rng = np.random.default_rng(1)
    bank = _bank(rng, n=30)
    reference, other = _pair(backend, metric, bank)
    X, x_classes = rng.random((40, 20), dtype=np.float32), np.arange(40) % 4
    other.nearest(X)  # builds engine state that the changes below must refresh
    bank.append(rng.random((25, 20), dtype=np.float32), np.arange(25) % 4)
    bank.update_rows(np.array([0, 7, 40]), rng.random((3, 20), dtype=np.float32), np.array([3, 2, 5]))
    bank.merge_rows(np.array([1]), np.array([5]))
    bank.replace_rows(np.array([5]), rng.random((1, 20), dtype=np.float32), np.array([2]))  # class 1 -> 2
    _same(other.nearest(X), reference.nearest(X))
    _same(other.nearest(X, 2), reference.nearest(X, 2))
    _same(other.nearest_same_label(X, x_classes), reference.nearest_same_label(X, x_classes))


@pytest.mark.parametrize("metric", METRICS)
def test_numpy_class_blocks_follow_every_change_of_the_bank(metric, monkeypatch):
    from memorynet.engine import kernels, searchers

    monkeypatch.setattr(searchers, "_BLOCKS_FROM", 0)  # the blocks otherwise start at a few thousand neurons
    rng = np.random.default_rng(3)
    bank = _bank(rng, n=30)
    searcher = NumpySearcher(metric, 3.0).attach(bank)
    X, x_classes = rng.random((40, 20), dtype=np.float32), np.arange(40) % 5  # class 4 has no neuron

    def check():
        expected = kernels.nearest_same_label(X, x_classes, bank.memories, bank.classes, metric, p=3.0)
        np.testing.assert_array_equal(searcher.nearest_same_label(X, x_classes)[1], expected[1])
        np.testing.assert_array_equal(searcher.nearest_same_label(X, x_classes)[0], expected[0])
    check()  # builds the blocks
    bank.append(rng.random((25, 20), dtype=np.float32), np.arange(25) % 5)  # class 4 appears
    check()
    bank.update_rows(np.array([0, 7, 40]), rng.random((3, 20), dtype=np.float32), np.array([3, 2, 5]))
    bank.merge_rows(np.array([1]), np.array([5]))
    bank.replace_rows(np.array([5]), rng.random((1, 20), dtype=np.float32), np.array([2]))  # class 1 -> 2
    check()
    bank.relabel(np.array([4, 3, 2, 1, 0]))
    check()
    searcher.release_training_index()  # dropped, then made again from the bank at the next same-label search
    assert searcher._blocks is None
    bank.append(rng.random((5, 20), dtype=np.float32), np.arange(5) % 5)
    check()
    assert searcher._blocks is not None


def test_fit_frees_the_class_blocks_and_learning_goes_on_as_if_kept(monkeypatch):
    from memorynet.engine import searchers

    monkeypatch.setattr(searchers, "_BLOCKS_FROM", 0)
    rng = np.random.default_rng(4)
    X, y = rng.random((600, 30), dtype=np.float32), rng.integers(0, 4, 600)

    def fitted_then_streamed():
        model = MemoryNetworkClassifier(60, batch_size=50, random_state=0, search_backend="numpy").fit(X[:400], y[:400])
        freed = model._searchers()[0]._blocks is None  # a full bank: every batch searched its class blocks
        return model.partial_fit(X[400:], y[400:]), freed

    model, freed = fitted_then_streamed()
    monkeypatch.setattr(NumpySearcher, "release_training_index", lambda self: None)
    kept, kept_freed = fitted_then_streamed()
    assert freed and not kept_freed
    np.testing.assert_array_equal(model.banks_[0].memories, kept.banks_[0].memories)
    np.testing.assert_array_equal(model.banks_[0].counters, kept.banks_[0].counters)


def test_counting_searcher_counts_the_multiply_adds_it_asks_for():
    rng = np.random.default_rng(2)
    bank = _bank(rng, n=12, width=5, n_classes=3)  # 4 neurons per class
    counter = CountingSearcher(NumpySearcher()).attach(bank)
    X = rng.random((7, 5), dtype=np.float32)
    expected = NumpySearcher().attach(bank).nearest_same_label(X, np.array([0, 0, 1, 1, 1, 2, 3]))
    _same(counter.nearest_same_label(X, np.array([0, 0, 1, 1, 1, 2, 3])), expected)
    assert counter.macs == (2 + 3 + 1) * 4 * 5
    counter.nearest(X)
    assert counter.macs == (6 * 4 + 7 * 12) * 5


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="search_backend"):
        MemoryNetworkClassifier(search_backend="annoy").fit(np.zeros((2, 2)), [0, 1])


@pytest.mark.parametrize("backend", ENGINES)
def test_same_predictions_as_numpy_on_mnist(mnist, backend):
    _available(backend)
    X, X_test = scale_pixels(mnist.X_train[:20000]), scale_pixels(mnist.X_test)
    reference = MemoryNetworkClassifier(2000, random_state=0).fit(X, mnist.y_train[:20000])
    other = MemoryNetworkClassifier(2000, random_state=0, search_backend=backend).fit(X, mnist.y_train[:20000])
    np.testing.assert_allclose(other.memories_, reference.memories_, atol=1e-5)
    np.testing.assert_array_equal(other.predict(X_test), reference.predict(X_test))
