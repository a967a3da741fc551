"""The SPEC's exact reduction check and the one-pass accuracy floor, on the real MNIST files."""

import numpy as np

from memorynet import MemoryNetworkClassifier, scale_pixels


def test_full_memory_without_threshold_is_exactly_one_nearest_neighbour(mnist):
    X_train, X_test = scale_pixels(mnist.X_train), scale_pixels(mnist.X_test)
    model = MemoryNetworkClassifier(max_neurons=60000, class_budget="shared",  # the paper's rule
                                    random_state=0).fit(X_train, mnist.y_train)
    assert model.n_neurons_ == 60000 and (model.counters_ == 1).all()
    correct = int((model.predict(X_test) == mnist.y_test).sum())
    assert correct == 9691  # 96.91 %, the 1-NN figure measured on these files (SPEC)


def test_one_thousand_neurons_one_pass_reaches_95_percent(mnist):
    X_train, X_test = scale_pixels(mnist.X_train), scale_pixels(mnist.X_test)
    model = MemoryNetworkClassifier(max_neurons=1000, random_state=0).fit(X_train, mnist.y_train)
    assert model.n_neurons_ == 1000 and model.counters_.sum() == 60000
    assert model.score(X_test, mnist.y_test) >= 0.95


def test_cifar10_full_memory_is_one_nearest_neighbour(cifar10):
    X_train, X_test = scale_pixels(cifar10.X_train), scale_pixels(cifar10.X_test)
    model = MemoryNetworkClassifier(max_neurons=50000, class_budget="shared",
                                    random_state=0).fit(X_train, cifar10.y_train)
    correct = int((model.predict(X_test) == cifar10.y_test).sum())
    assert correct == 3530  # 35.30 %, the 1-NN figure measured on these files (SPEC)
    assert np.isfinite(model.memories_).all()
