"""The one-pass peers and the continual-learning metrics, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from memorynet.experiments import continual
from memorynet.experiments.peers import NearestClassMean, PerClassKMeans, ReplayMLP, StreamingLDA


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


def _chunks(model, X, y, size):
    for start in range(0, len(X), size):
        model.partial_fit(X[start:start + size], y[start:start + size], classes=np.unique(y))
    return model


def test_streaming_lda_holds_the_pooled_within_class_covariance_whatever_the_chunks(digits):
    X, y = digits
    means = np.stack([X[y == c].mean(0) for c in range(10)])
    centred = X - means[y]
    pooled = centred.T @ centred / len(X)
    for size in (len(X), 97, 1):
        model = _chunks(StreamingLDA(shrinkage=0.1), X, y, size)
        np.testing.assert_allclose(model.means_, means, atol=1e-10)
        np.testing.assert_allclose(model.covariance(), 0.9 * pooled + 0.1 * np.eye(64), atol=1e-10)
    weights = np.linalg.solve(0.9 * pooled + 0.1 * np.eye(64), means.T)
    expected = np.argmax(X @ weights - 0.5 * np.einsum("cd,dc->c", means, weights), axis=1)
    np.testing.assert_array_equal(model.predict(X), expected)
    assert model.score(X, y) > 0.9


def test_nearest_class_mean_never_predicts_a_class_it_has_not_seen(digits):
    X, y = digits
    model = NearestClassMean().partial_fit(X[y < 2], y[y < 2], classes=np.arange(10))
    assert set(model.predict(X)) <= {0, 1}
    model.partial_fit(X[y >= 2], y[y >= 2])
    np.testing.assert_allclose(model.means_[5], X[y == 5].mean(0))
    with pytest.raises(ValueError, match="not declared"):
        NearestClassMean().partial_fit(X[:5], y[:5], classes=[0, 1]).partial_fit(X, y)


def test_the_replay_buffer_is_a_uniform_reservoir_of_the_stream(digits):
    X, y = digits
    model = ReplayMLP(buffer_size=50, random_state=0)
    _chunks(model, X[:1000], y[:1000], 200)
    assert model.seen_ == 1000 and len(model.buffer_y_) == 50
    rows = [np.flatnonzero((X[:1000] == x).all(1))[0] for x in model.buffer_X_]
    assert np.mean(rows) == pytest.approx(500, abs=150)  # drawn from the whole stream, not its end
    np.testing.assert_array_equal(model.buffer_y_, y[rows])


def test_per_class_kmeans_keeps_its_prototypes_per_class(digits):
    X, y = digits
    model = _chunks(PerClassKMeans(n_prototypes=8, random_state=0), X, y, 300)
    centres, owner = model.prototypes()
    assert centres.shape == (80, 64) and np.bincount(owner).tolist() == [8] * 10
    assert model.score(X, y) > 0.85
    few = PerClassKMeans(n_prototypes=30, random_state=0).partial_fit(X[:50], y[:50], classes=np.arange(10))
    assert len(few.prototypes()[0]) == 50  # too few images yet: they are the prototypes


def test_metrics_of_an_accuracy_matrix():
    nan = np.nan
    R = np.array([[1.0, nan, nan], [0.8, 0.9, nan], [0.6, 0.85, 0.7]])
    assert continual.average_accuracy(R) == pytest.approx((0.6 + 0.85 + 0.7) / 3)
    assert continual.backward_transfer(R) == pytest.approx(((0.6 - 1.0) + (0.85 - 0.9)) / 2)
    assert continual.forgetting(R) == pytest.approx(((1.0 - 0.6) + (0.9 - 0.85)) / 2)
    R2 = np.array([[0.5, nan, nan], [0.9, 0.9, nan], [0.6, 0.85, 0.7]])  # improved after learning, then forgot
    assert continual.forgetting(R2) == pytest.approx(((0.9 - 0.6) + (0.9 - 0.85)) / 2)
    assert continual.forgetting_after_learning(R2) == pytest.approx(((0.5 - 0.6) + (0.9 - 0.85)) / 2)
    assert [t.tolist() for t in continual.split_tasks(np.arange(10))] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


def test_the_shrinkage_is_chosen_on_the_validation_split(digits):
    X, y = digits
    chosen, scores = continual.select_shrinkage(X[:1200], y[:1200], X[1200:], y[1200:])
    assert set(scores) == set(continual.SHRINKAGES) and scores[chosen] == max(scores.values())
    assert len(set(scores.values())) > 1  # each shrinkage is solved anew, not read from a stale cache
