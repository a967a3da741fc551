"""Local receptive fields and presets."""

import numpy as np
import pytest

from memorynet import LocalReceptiveFieldClassifier, MemoryNetworkClassifier
from memorynet.receptive_fields import patch_grid


def test_patch_grid_covers_the_image():
    assert patch_grid(28, 28, 14, 7) == [(r, c) for r in (0, 7, 14) for c in (0, 7, 14)]
    assert patch_grid(10, 10, 4, 4) == [(r, c) for r in (0, 4, 6) for c in (0, 4, 6)]


@pytest.fixture
def digits():
    from memorynet import datasets

    return datasets.load("digits")


def test_each_position_has_its_own_bank_trained_on_its_patch(digits):
    X = digits.X_train / 16.0
    model = LocalReceptiveFieldClassifier(4, 4, 200, random_state=0).fit(X, digits.y_train)
    assert len(model.banks_) == 4 and model.n_neurons_ == 800
    bank = model.banks_[3]  # bottom-right 4x4 patch
    assert bank.n_features_in_ == 16 and bank.counters_.sum() == len(X)
    assert not np.shares_memory(model.banks_[0]._bank, model.banks_[1]._bank)


def test_distance_combination_equals_a_hand_sum(digits):
    X, X_test = digits.X_train / 16.0, digits.X_test[:20] / 16.0
    model = LocalReceptiveFieldClassifier(4, 4, 100, random_state=0).fit(X, digits.y_train)
    total = np.zeros((20, 10))
    for (r, c), bank in zip(model.corners_, model.banks_):
        patches = X_test[:, :, r:r + 4, c:c + 4].reshape(20, -1)
        memories = bank.memories_.reshape(bank.n_neurons_, -1)
        d = ((patches[:, None, :] - memories[None]) ** 2).sum(-1)
        for k in range(10):
            total[:, k] += d[:, bank.labels_ == k].min(axis=1)
    np.testing.assert_array_equal(model.predict(X_test), total.argmin(axis=1))
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1)


def test_vote_combination_and_accuracy(digits):
    X, X_test = digits.X_train / 16.0, digits.X_test / 16.0
    votes = LocalReceptiveFieldClassifier(4, 2, 300, combine="vote", random_state=0).fit(X, digits.y_train)
    assert votes.score(X_test, digits.y_test) > 0.85
    assert LocalReceptiveFieldClassifier(4, 2, 300, random_state=0).fit(X, digits.y_train).score(
        X_test, digits.y_test) > 0.9


def test_bad_patch_sizes_are_refused(digits):
    with pytest.raises(ValueError, match="larger than the 8x8"):
        LocalReceptiveFieldClassifier(9, 1).fit(digits.X_train, digits.y_train)
    with pytest.raises(ValueError, match="image_shape"):
        LocalReceptiveFieldClassifier(2, 1).fit(np.zeros((4, 10)), [0, 1, 0, 1])


@pytest.mark.parametrize("name", ["paper", "mnist-best", "cifar10-best"])
def test_presets_are_unfitted_pipelines_that_learn(name, digits):
    pipeline = MemoryNetworkClassifier.preset(name, random_state=0)
    assert not hasattr(pipeline[-1], "classes_")
    if name == "cifar10-best":
        rng = np.random.default_rng(0)
        X, y = rng.integers(0, 256, (60, 3, 16, 16)), np.arange(60) % 3
        assert pipeline.fit(X, y).score(X, y) > 0.9
    elif name == "mnist-best":
        X = np.kron(digits.X_train[:300] * (255 / 16), np.ones((1, 1, 2, 2)))  # 16x16 so the 14px patches fit
        assert pipeline.fit(X, digits.y_train[:300]).score(X, digits.y_train[:300]) > 0.9
    else:
        pipeline.fit(digits.X_train * (255 / 16), digits.y_train)
        assert pipeline.score(digits.X_test * (255 / 16), digits.y_test) > 0.9
    with pytest.raises(ValueError, match="unknown preset"):
        MemoryNetworkClassifier.preset("imagenet-best")
