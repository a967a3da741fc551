"""The SPEC's exact reduction checks (1-NN on MNIST and CIFAR-10, by NumPy and by the int8 engine) and the one-pass
accuracy floor, on the real files."""

import copy

import numpy as np
import pytest

from memorynet import MemoryNetworkClassifier, scale_pixels
from memorynet.engine import quantized


def _full_memory(ds, backend: str) -> tuple[MemoryNetworkClassifier, np.ndarray]:
    """The paper's rule with a neuron for every training image (1-NN), searched by ``backend``: (model,
    predictions on the test set)."""
    model = MemoryNetworkClassifier(max_neurons=len(ds.X_train), class_budget="shared",  # the paper's rule
                                    random_state=0, search_backend=backend).fit(scale_pixels(ds.X_train),
                                                                                ds.y_train)
    return model, model.predict(scale_pixels(ds.X_test))


def _int8_agrees(model: MemoryNetworkClassifier, predicted: np.ndarray, X_test: np.ndarray) -> None:
    """The int8 engine over the same memory predicts exactly what float32 NumPy does (or skips, saying why)."""
    if not quantized.int8_available():
        pytest.skip("the int8 search path needs PyTorch (pip install torch==2.13.0, the CPU build) and VNNI or AMX")
    int8 = copy.deepcopy(model).set_params(search_backend="int8")  # a copy makes its searchers anew
    np.testing.assert_array_equal(int8.predict(scale_pixels(X_test)), predicted)


@pytest.fixture(scope="module")
def mnist_full(mnist):
    return _full_memory(mnist, "numpy")


@pytest.fixture(scope="module")
def cifar10_full(cifar10):
    return _full_memory(cifar10, "numpy")


def test_full_memory_without_threshold_is_exactly_one_nearest_neighbour(mnist, mnist_full):
    model, predicted = mnist_full
    assert model.n_neurons_ == 60000 and (model.counters_ == 1).all()
    assert int((predicted == mnist.y_test).sum()) == 9691  # 96.91 %, the 1-NN figure measured on these files (SPEC)


def test_int8_search_of_the_full_mnist_memory_predicts_the_same(mnist, mnist_full):
    _int8_agrees(*mnist_full, mnist.X_test)


def test_one_thousand_neurons_one_pass_reaches_95_percent(mnist):
    X_train, X_test = scale_pixels(mnist.X_train), scale_pixels(mnist.X_test)
    model = MemoryNetworkClassifier(max_neurons=1000, random_state=0).fit(X_train, mnist.y_train)
    assert model.n_neurons_ == 1000 and model.counters_.sum() == 60000
    assert model.score(X_test, mnist.y_test) >= 0.95


def test_cifar10_full_memory_is_one_nearest_neighbour(cifar10, cifar10_full):
    model, predicted = cifar10_full
    assert int((predicted == cifar10.y_test).sum()) == 3530  # 35.30 %, the 1-NN figure measured on these files (SPEC)
    assert np.isfinite(model.memories_).all()


def test_int8_search_of_the_full_cifar10_memory_predicts_the_same(cifar10, cifar10_full):
    _int8_agrees(*cifar10_full, cifar10.X_test)
