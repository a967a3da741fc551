"""Teaching a fitted model new classes: ``add_classes`` and ``make_room`` keep the budget and every old neuron."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from memorynet import LocalReceptiveFieldClassifier, MemoryNetworkClassifier, load_model


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).reshape(-1, 1, 8, 8).astype(np.float32), y


def _fit(digits, cls=MemoryNetworkClassifier, keep=lambda y: y > 0, **params):
    X, y = digits
    return cls(random_state=0, **params).fit(X[keep(y)][:900], y[keep(y)][:900])


def test_a_class_sorting_first_keeps_every_old_neuron_labelled_as_before(digits):
    model = _fit(digits, max_neurons=2000)  # room to spare: nothing is merged
    labels, memories = model.labels_.copy(), model.memories_.copy()
    before = model.predict(digits[0][1000:])
    assert model.add_classes([0]).tolist() == list(range(10))
    np.testing.assert_array_equal(model.labels_, labels)
    np.testing.assert_array_equal(model.memories_, memories)
    np.testing.assert_array_equal(model.predict(digits[0][1000:]), before)
    X, y = digits
    zeros = np.flatnonzero(y == 0)[:5]
    model.partial_fit(X[zeros], y[zeros])
    assert (model.labels_ == 0).sum() == 5 and model.predict(X[zeros]).tolist() == [0] * 5


@pytest.mark.parametrize("cls, params", [(MemoryNetworkClassifier, {"max_neurons": 200}),
                                         (MemoryNetworkClassifier, {"max_neurons": 200, "class_budget": "balanced"}),
                                         (LocalReceptiveFieldClassifier, {"patch_size": 4, "stride": 2,
                                                                          "max_neurons": 50})])
def test_a_full_memory_makes_room_by_merging_and_keeps_its_budget(digits, cls, params):
    model = _fit(digits, cls, **params)
    totals = [bank.counters.sum() for bank in model.banks_]
    model.add_classes([0])
    for bank, total in zip(model.banks_, totals):
        assert len(bank) == bank.capacity - 1 and bank.counters.sum() == total  # a merge keeps every input
        assert bank.class_counts(10)[0] == 0
    X, y = digits
    for i in np.flatnonzero(y == 0)[:4]:  # each lesson: room by consolidation, then the new class grows
        model.make_room(1)
        model.partial_fit(X[i:i + 1], y[i:i + 1])
    for bank in model.banks_:
        bank.validate(10)
        assert len(bank) == bank.capacity and bank.class_counts(10)[0] == 4
        assert bank.counters.sum() == model.n_samples_seen_


def test_every_search_engine_agrees_after_classes_are_added(digits):
    pytest.importorskip("faiss", reason="needs pip install 'memorynet[faiss]'")
    X, y = digits
    models = [_fit(digits, max_neurons=150, search_backend=b) for b in ("numpy", "faiss")]
    for model in models:
        model.predict(X[:10])  # engines built before the change must not survive it
        model.add_classes([0])
        model.make_room(3)
        model.partial_fit(X[y == 0][:3], y[y == 0][:3])
    np.testing.assert_array_equal(models[0].predict(X), models[1].predict(X))
    np.testing.assert_allclose(models[0].class_distances(X[:50]), models[1].class_distances(X[:50]), rtol=1e-4)


def test_refused_additions_leave_the_model_as_it_was(digits):
    model = _fit(digits, max_neurons=100)
    arrays = model.banks_[0].to_arrays()
    with pytest.raises(ValueError, match="labels the model does not know yet"):
        model.add_classes([3])
    with pytest.raises(ValueError, match="not of the kind"):
        model.add_classes(["zero"])
    with pytest.raises(ValueError, match="too few neurons"):
        model.make_room(90)
    assert model.classes_.tolist() == list(range(1, 10))
    for key, value in model.banks_[0].to_arrays().items():
        np.testing.assert_array_equal(value, arrays[key])


def test_a_model_with_added_classes_saves_and_loads(digits, tmp_path):
    model = _fit(digits, max_neurons=120)
    model.add_classes([0])
    X, y = digits
    model.partial_fit(X[y == 0][:2], y[y == 0][:2])
    loaded = load_model(model.save(tmp_path / "m.mnet"))[0]
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_nearest_neurons_and_class_distances_match_brute_force(digits):
    model = _fit(digits, max_neurons=300)
    X = digits[0][1000:1020].reshape(20, -1)
    M = model.memories_.reshape(len(model.memories_), -1)
    D = ((X[:, None, :] - M[None]) ** 2).sum(-1)
    distances, rows = model.nearest_neurons(X, k=3)
    np.testing.assert_allclose(distances, np.sort(D, axis=1)[:, :3], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(D, rows, axis=1), distances, rtol=1e-4, atol=1e-5)  # ties: any
    per_class = np.stack([D[:, model.labels_ == c].min(axis=1) for c in model.classes_], axis=1)
    np.testing.assert_allclose(model.class_distances(X), per_class, rtol=1e-4, atol=1e-5)
