"""The one-pass rule on a bank and a searcher, with no estimator: the SPEC's reference loop, weighted inputs."""

import numpy as np
import pytest
from references import reference_fit

from memorynet import NeuronBank
from memorynet.engine.rule import NoRoomForClass, OnePassRule
from memorynet.engine.searchers import NumpySearcher


def _learn(X, y, capacity, batch_size, weights=None, **options):
    bank = NeuronBank(X.shape[1], capacity)
    searcher = NumpySearcher().attach(bank)
    OnePassRule(int(y.max()) + 1, **options).learn(bank, searcher, X, y, batch_size, weights=weights)
    return bank


@pytest.fixture
def blobs():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 200)
    return (rng.random((3, 6))[y] * 4 + rng.normal(0, 0.5, (200, 6))).astype(np.float32), y


@pytest.mark.parametrize("threshold, batch_size", [(None, 1), (2.0, 1), (None, 32), (3.0, 32)])
def test_the_rule_alone_follows_the_reference_loop(blobs, threshold, batch_size):
    X, y = blobs
    bank = _learn(X, y, 25, batch_size, threshold=threshold)
    mem, lab, cnt = reference_fit(X, y, 25, threshold, batch_size=batch_size)
    np.testing.assert_array_equal(bank.classes, lab)
    np.testing.assert_array_equal(bank.counters, cnt)
    np.testing.assert_allclose(bank.memories, mem, rtol=1e-5, atol=1e-5)


def test_an_input_of_weight_w_is_w_identical_inputs_once_the_memory_is_full(blobs):
    X, y = blobs
    full = _learn(X[:100], y[:100], 12, 16)
    repeated, weighted = (NeuronBank(6, 12) for _ in range(2))
    for bank in (repeated, weighted):
        bank.append(full.memories, full.classes)
        bank.update_rows(np.arange(12), full.memories, full.counters)
    w = np.arange(1, 101) % 4 + 1
    rule = OnePassRule(3)
    rule.learn(repeated, NumpySearcher().attach(repeated), np.repeat(X[100:], w, axis=0), np.repeat(y[100:], w),
               batch_size=10**6)
    rule.learn(weighted, NumpySearcher().attach(weighted), X[100:], y[100:], batch_size=10**6, weights=w)
    np.testing.assert_array_equal(weighted.counters, repeated.counters)
    np.testing.assert_allclose(weighted.memories, repeated.memories, rtol=1e-5)


def test_a_weighted_input_grows_one_neuron_that_carries_its_weight():
    bank = _learn(np.array([[0.0], [5.0]], np.float32), np.array([0, 1]), 4, 2, weights=np.array([3, 7]))
    np.testing.assert_array_equal(bank.counters, [3, 7])


def test_no_room_for_a_new_class_leaves_the_bank_unchanged():
    bank = _learn(np.array([[0.0], [1.0]], np.float32), np.array([0, 0]), 2, 1, new_label_policy="error")
    before = bank.to_arrays()
    with pytest.raises(NoRoomForClass) as caught:
        OnePassRule(2, new_label_policy="error").learn_batch(bank, NumpySearcher().attach(bank),
                                                             np.array([[3.0]], np.float32), np.array([1]))
    assert caught.value.class_index == 1
    for name, array in bank.to_arrays().items():
        np.testing.assert_array_equal(array, before[name])
