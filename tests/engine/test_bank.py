import numpy as np
import pytest

from memorynet.engine.bank import BankError, NeuronBank
from memorynet.engine.rule import OnePassRule
from memorynet.engine.searchers import NumpySearcher


def test_a_reservation_allocates_once_and_the_appends_it_covers_copy_nothing():
    bank = NeuronBank(3, capacity=5000)
    bank.reserve(3000)
    buffer = bank._memories
    assert len(buffer) == 3000
    for start in range(0, 3000, 500):
        bank.append(np.full((500, 3), start, np.float32), np.zeros(500, int))
        assert bank._memories is buffer
    np.testing.assert_array_equal(bank.memories[::500, 0], np.arange(0, 3000, 500))


def test_a_reservation_stops_at_the_capacity_and_small_ones_still_grow_geometrically():
    bank = NeuronBank(2, capacity=3000)
    bank.reserve(10**9)
    assert len(bank._memories) == 3000
    with pytest.raises(BankError, match="cannot append"):
        bank.append(np.zeros((3001, 2), np.float32), np.zeros(3001, int))
    small = NeuronBank(2, capacity=100_000)
    sizes = set()
    for _ in range(200):  # a stream of 50-row chunks: each reserves its chunk, the buffer doubles
        small.reserve(50)
        small.append(np.zeros((50, 2), np.float32), np.zeros(50, int))
        sizes.add(len(small._memories))
    assert sorted(sizes) == [1024, 2048, 4096, 8192, 16384]


def test_a_pass_grows_the_bank_in_one_step_and_learns_what_it_learnt_before():
    rng = np.random.default_rng(0)
    X = rng.random((3000, 4), dtype=np.float32)
    classes = rng.integers(0, 3, 3000)
    bank = NeuronBank(4, capacity=2500)
    OnePassRule(3).learn(bank, NumpySearcher().attach(bank), X, classes, 256)
    assert len(bank._memories) == 2500 == len(bank)  # the reservation, never regrown
    grown = NeuronBank(4, capacity=2500)  # the same batches appended without a reservation
    rule, searcher = OnePassRule(3), NumpySearcher().attach(grown)
    for start in range(0, 3000, 256):
        rule.learn_batch(grown, searcher, X[start:start + 256], classes[start:start + 256])
    np.testing.assert_array_equal(bank.memories, grown.memories)
    np.testing.assert_array_equal(bank.counters, grown.counters)
