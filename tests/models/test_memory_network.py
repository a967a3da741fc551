"""The estimator: the SPEC's learning rule against a plain loop, policies, inference, scikit-learn conformance."""

import numpy as np
import pytest
from references import reference_fit

from memorynet import MemoryNetworkClassifier


@pytest.fixture
def blobs():
    rng = np.random.default_rng(1)
    centers = rng.random((4, 10)) * 4
    y = rng.integers(0, 4, 300)
    X = (centers[y] + rng.normal(0, 0.6, (300, 10))).astype(np.float32)
    return X, y


@pytest.mark.parametrize("threshold", [None, 2.0, 6.0])
def test_batch_size_one_is_the_sequential_rule(blobs, threshold):
    X, y = blobs
    model = MemoryNetworkClassifier(40, threshold=threshold, batch_size=1, shuffle=False,
                                    class_budget="shared").fit(X, y)
    mem, lab, cnt = reference_fit(X, y, 40, threshold)
    assert model.n_neurons_ == len(mem)
    np.testing.assert_array_equal(model.labels_, lab)
    np.testing.assert_array_equal(model.counters_, cnt)
    np.testing.assert_allclose(model.memories_.reshape(len(mem), -1), mem, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("threshold", [None, 4.0])
def test_batches_search_against_the_memory_at_the_batch_start(blobs, threshold):
    X, y = blobs
    model = MemoryNetworkClassifier(30, threshold=threshold, batch_size=64, shuffle=False,
                                    class_budget="shared").fit(X, y)
    mem, lab, cnt = reference_fit(X, y, 30, threshold, batch_size=64)
    np.testing.assert_array_equal(model.labels_, lab)
    np.testing.assert_array_equal(model.counters_, cnt)
    np.testing.assert_allclose(model.memories_.reshape(len(mem), -1), mem, rtol=1e-5, atol=1e-5)


def test_multi_hit_batch_gives_the_mean_of_all_hits():
    X = np.array([[0.0], [10.0], [1.0], [2.0], [3.0]], dtype=np.float32)
    y = np.array([0, 1, 0, 0, 0])
    model = MemoryNetworkClassifier(2, batch_size=2, shuffle=False).fit(X, y)
    # batch 1 fills the memory; batch 2 ([1], [2]) and batch 3 ([3]) all hit the class-0 neuron
    assert model.memories_.ravel()[0] == pytest.approx((0 + 1 + 2 + 3) / 4)
    assert list(model.counters_) == [4, 1]


def test_batch_and_sequential_learning_agree_closely(blobs):
    X, y = blobs
    one = MemoryNetworkClassifier(20, batch_size=1, random_state=0).fit(X, y)
    many = MemoryNetworkClassifier(20, batch_size=128, random_state=0).fit(X, y)
    assert abs(one.score(X, y) - many.score(X, y)) <= 0.05
    assert one.counters_.sum() == many.counters_.sum() == len(X)


def test_every_input_is_absorbed_exactly_once(blobs):
    X, y = blobs
    model = MemoryNetworkClassifier(25, threshold=3.0, random_state=0).fit(X, y)
    assert model.counters_.sum() == len(X) == model.n_samples_seen_
    assert model.n_neurons_ <= 25


def test_without_threshold_every_input_becomes_a_neuron_when_there_is_room(blobs):
    X, y = blobs
    model = MemoryNetworkClassifier(1000, shuffle=False).fit(X, y)
    assert model.n_neurons_ == len(X)
    np.testing.assert_array_equal(model.memories_.reshape(len(X), -1), X)
    np.testing.assert_array_equal(model.predict(X), y)


def test_threshold_limits_growth(blobs):
    X, y = blobs
    # small batches: inputs of one batch are not compared with each other, only with the memory
    loose = MemoryNetworkClassifier(1000, threshold=0.0, batch_size=10).fit(X, y)
    tight = MemoryNetworkClassifier(1000, threshold=20.0, batch_size=10).fit(X, y)
    assert tight.n_neurons_ < loose.n_neurons_ == len(X)
    assert tight.n_neurons_ >= 4


def test_reserve_policy_keeps_a_slot_for_each_declared_class():
    X = np.arange(12, dtype=np.float32)[:, None]
    y = np.array([0] * 10 + [1, 2])
    model = MemoryNetworkClassifier(3, shuffle=False, batch_size=4).fit(X, y)
    assert sorted(model.labels_) == [0, 1, 2]
    np.testing.assert_array_equal(model.predict([[10.0], [11.0]]), [1, 2])


def test_error_policy_raises_a_clear_error_and_leaves_the_model_unchanged():
    X = np.arange(12, dtype=np.float32)[:, None]
    y = np.array([0] * 10 + [1, 2])
    model = MemoryNetworkClassifier(3, shuffle=False, batch_size=1, new_label_policy="error", class_budget="shared")
    model.partial_fit(X[:10], y[:10], classes=[0, 1, 2])
    before = model.memories_.copy(), model.counters_.copy()
    with pytest.raises(ValueError, match="memory is full .*label 1 has no neuron"):
        model.partial_fit(X[10:], y[10:])
    np.testing.assert_array_equal(model.memories_, before[0])
    np.testing.assert_array_equal(model.counters_, before[1])


def test_new_label_inside_a_batch_joins_the_neuron_born_in_that_batch():
    X = np.array([[0.0], [1.0], [5.0], [6.0]], dtype=np.float32)
    y = np.array([0, 0, 1, 1])
    model = MemoryNetworkClassifier(2, shuffle=False, batch_size=4).fit(X, y)
    assert sorted(model.labels_) == [0, 1]
    np.testing.assert_allclose(np.sort(model.memories_.ravel()), [0.5, 5.5])


def test_max_neurons_below_the_number_of_classes_is_rejected(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="max_neurons=3 is smaller than the number of classes"):
        MemoryNetworkClassifier(3).fit(X, y)


def test_partial_fit_continues_the_pass_like_fit(blobs):
    X, y = blobs
    whole = MemoryNetworkClassifier(30, batch_size=50, shuffle=False).fit(X, y)
    stream = MemoryNetworkClassifier(30, batch_size=50, shuffle=False)
    for start in range(0, 300, 100):
        stream.partial_fit(X[start:start + 100], y[start:start + 100], classes=np.unique(y))
    np.testing.assert_array_equal(whole.memories_, stream.memories_)
    np.testing.assert_array_equal(whole.counters_, stream.counters_)
    assert stream.n_samples_seen_ == 300


def test_partial_fit_learns_unannounced_labels_and_rejects_changed_classes(blobs):
    X, y = blobs
    model = MemoryNetworkClassifier(30).partial_fit(X, y, classes=[0, 1, 2, 3])
    far = X[:3] + 100  # a new class far from the others, on a full memory
    model.partial_fit(far, [9, 9, 9])
    assert model.classes_.tolist() == [0, 1, 2, 3, 9] and model.n_neurons_ == 30
    assert (model.predict(far) == 9).all() and np.bincount(model.labels_)[9] >= 1
    assert model.counters_.sum() == len(X) + 3  # nothing learnt before was dropped: merged, not lost
    with pytest.raises(ValueError, match="not of the kind of classes_"):
        model.partial_fit(X[:1], ["cat"])
    with pytest.raises(ValueError, match="differs from the classes"):
        model.partial_fit(X[:1], y[:1], classes=[0, 1])


def test_fit_restarts_from_an_empty_memory(blobs):
    X, y = blobs
    model = MemoryNetworkClassifier(30, random_state=0).fit(X, y)
    first = model.memories_.copy()
    model.fit(X, y)
    np.testing.assert_array_equal(model.memories_, first)
    assert model.n_samples_seen_ == len(X)


def test_image_shapes_are_inferred_and_checked():
    rng = np.random.default_rng(0)
    X = rng.random((20, 3, 4, 5), dtype=np.float32)
    y = np.arange(20) % 2
    model = MemoryNetworkClassifier(10).fit(X, y)
    assert model.image_shape_ == (3, 4, 5) and model.memories_.shape[1:] == (3, 4, 5)
    assert model.n_features_in_ == 60
    model.predict(X.reshape(20, -1))  # flat rows of the right length are fine
    with pytest.raises(ValueError, match="images of shape"):
        model.predict(rng.random((2, 3, 5, 4)))
    with pytest.raises(ValueError, match="image_shape"):
        MemoryNetworkClassifier(10, image_shape=(2, 4, 5)).fit(X, y)
    gray = MemoryNetworkClassifier(10).fit(X[:, 0], y)
    assert gray.image_shape_ == (1, 4, 5)


def test_uint8_input_gives_the_same_neighbours_as_scaled_input():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (60, 16), dtype=np.uint8)
    y = np.arange(60) % 3
    raw = MemoryNetworkClassifier(1000).fit(X, y)
    scaled = MemoryNetworkClassifier(1000).fit(X / 255.0, y)
    queries = rng.integers(0, 256, (30, 16), dtype=np.uint8)
    np.testing.assert_array_equal(raw.predict(queries), scaled.predict(queries / 255.0))


def test_channel_voting_uses_each_channel_alone():
    # Class 0 and class 1 differ in channel 0 only weakly, in channels 1 and 2 strongly.
    memories = np.zeros((2, 3, 1, 2), dtype=np.float32)
    memories[1, 1:] = 1.0
    memories[1, 0] = 0.3
    y = np.array([0, 1])
    query = np.zeros((1, 3, 1, 2), dtype=np.float32)
    query[0, 0] = 0.35  # channel 0 says class 1 ...
    query[0, 1:] = 0.45  # ... channels 1 and 2 say class 0
    voting = MemoryNetworkClassifier(2, channel_voting=True).fit(memories, y)
    assert voting.predict(query)[0] == 0
    np.testing.assert_allclose(voting.predict_proba(query), [[2 / 3, 1 / 3]])
    query[0, 1] = 0.55  # now two channels say class 1
    assert voting.predict(query)[0] == 1


def test_k_nearest_voting_and_proba(blobs):
    X, y = blobs
    model = MemoryNetworkClassifier(1000, n_neighbors=5, weights="distance").fit(X, y)
    proba = model.predict_proba(X[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X[:20]))
    one = MemoryNetworkClassifier(1000).fit(X, y).predict_proba(X[:5])
    assert set(np.unique(one)) <= {0.0, 1.0}


@pytest.mark.parametrize("distance", ["l1", "cosine", "lp"])
def test_other_distances_learn(blobs, distance):
    from sklearn.neighbors import KNeighborsClassifier

    X, y = blobs
    metric = {"l1": {"metric": "manhattan"}, "cosine": {"metric": "cosine"}, "lp": {"metric": "minkowski", "p": 3}}
    reference = KNeighborsClassifier(1, algorithm="brute", **metric[distance]).fit(X[:200], y[:200])
    every_input = MemoryNetworkClassifier(200, distance=distance, p=3, random_state=0).fit(X[:200], y[:200])
    np.testing.assert_array_equal(every_input.predict(X[200:]), reference.predict(X[200:]))  # 1-NN exactly
    model = MemoryNetworkClassifier(40, distance=distance, p=3, random_state=0).fit(X[:200], y[:200])
    assert model.score(X[200:], y[200:]) >= reference.score(X[200:], y[200:]) - 0.05  # a fifth of the memory


def test_string_labels(blobs):
    X, y = blobs
    names = np.array(["ant", "bee", "cat", "dog"])[y]
    model = MemoryNetworkClassifier(40, random_state=0).fit(X, names)
    assert set(model.predict(X)) <= set(names)
    assert set(model.labels_) == set(names)


def test_unfitted_model_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MemoryNetworkClassifier().predict(np.zeros((1, 3)))


def test_balanced_budget_gives_each_class_its_share(blobs):
    X, y = blobs
    model = MemoryNetworkClassifier(22, class_budget="balanced", random_state=0).fit(X, y)
    assert sorted(np.bincount(np.searchsorted(model.classes_, model.labels_))) == [5, 5, 6, 6]
    assert model.counters_.sum() == len(X)


def test_consolidation_merges_the_closest_pair_to_store_a_novel_input():
    X = np.array([[0.0], [0.2], [10.0], [30.0]], dtype=np.float32)
    y = np.zeros(4, dtype=int)
    model = MemoryNetworkClassifier(3, threshold=0.01, consolidate=True, batch_size=1, shuffle=False).fit(X, y)
    # [0] and [0.2] merged (mean 0.1, counter 2); the novel 30 took the freed slot.
    np.testing.assert_allclose(sorted(model.memories_.ravel()), [0.1, 10.0, 30.0], atol=1e-6)
    assert sorted(model.counters_) == [1, 1, 2]
    paper_rule = MemoryNetworkClassifier(3, threshold=0.01, batch_size=1, shuffle=False).fit(X, y)
    np.testing.assert_allclose(sorted(paper_rule.memories_.ravel()), [0.0, 0.2, 20.0], atol=1e-6)


def test_consolidation_keeps_every_input_counted(blobs):
    X, y = blobs
    model = MemoryNetworkClassifier(20, threshold=0.5, consolidate=True, batch_size=32, random_state=0).fit(X, y)
    assert model.counters_.sum() == len(X) and model.n_neurons_ == 20
