"""Optional search backends give the NumPy path's neighbours and predictions."""

import numpy as np
import pytest

from memorynet import MemoryNetworkClassifier, kernels, scale_pixels


@pytest.mark.parametrize("backend", ["faiss", "torch"])
@pytest.mark.parametrize("metric", ["l2", "l1", "cosine", "lp"])
def test_same_neighbours_as_numpy(backend, metric):
    pytest.importorskip(backend)
    rng = np.random.default_rng(0)
    X = rng.random((60, 20), dtype=np.float32)
    M = rng.random((90, 20), dtype=np.float32)
    d0, i0 = kernels.nearest_neurons(X, M, 3, metric, p=3.0)
    d1, i1 = kernels.nearest_neurons(X, M, 3, metric, p=3.0, backend=backend)
    np.testing.assert_array_equal(i0, i1)
    np.testing.assert_allclose(d0, d1, rtol=1e-3, atol=1e-4)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="search_backend"):
        MemoryNetworkClassifier(search_backend="annoy").fit(np.zeros((2, 2)), [0, 1])


@pytest.mark.parametrize("backend", ["faiss", "torch"])
def test_same_predictions_as_numpy_on_mnist(mnist, backend):
    pytest.importorskip(backend)
    X, X_test = scale_pixels(mnist.X_train[:20000]), scale_pixels(mnist.X_test)
    reference = MemoryNetworkClassifier(2000, random_state=0).fit(X, mnist.y_train[:20000])
    other = MemoryNetworkClassifier(2000, random_state=0, search_backend=backend).fit(X, mnist.y_train[:20000])
    np.testing.assert_allclose(other.memories_, reference.memories_, atol=1e-5)
    np.testing.assert_array_equal(other.predict(X_test), reference.predict(X_test))
