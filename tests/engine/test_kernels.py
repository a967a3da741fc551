"""Kernels against plain references written here."""

import numpy as np
import pytest

from memorynet.engine import kernels


def reference_distances(X, M, metric, p=2.0):
    X, M = X.astype(np.float64), M.astype(np.float64)
    diff = X[:, None, :] - M[None, :, :]
    if metric == "l2":
        return (diff**2).sum(-1)
    if metric == "l1":
        return np.abs(diff).sum(-1)
    if metric == "lp":
        return (np.abs(diff) ** p).sum(-1) ** (1 / p)
    nx = np.linalg.norm(X, axis=1)[:, None]
    nm = np.linalg.norm(M, axis=1)[None, :]
    return 1 - (X @ M.T) / (nx * nm)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("metric", ["l2", "l1", "cosine", "lp"])
def test_pairwise_distances_match_reference(rng, metric):
    X = rng.random((7, 13), dtype=np.float32)
    M = rng.random((5, 13), dtype=np.float32)
    got = kernels.pairwise_distances(X, M, metric, p=3.0)
    assert got.dtype == np.float32 and got.shape == (7, 5)
    np.testing.assert_allclose(got, reference_distances(X, M, metric, p=3.0), rtol=1e-4, atol=1e-5)


def test_l2_is_never_negative_and_zero_on_itself(rng):
    X = rng.random((20, 50), dtype=np.float32) * 255
    D = kernels.pairwise_distances(X, X, "l2")
    assert (D >= 0).all()
    np.testing.assert_allclose(np.diag(D), 0, atol=0.5)  # float32 cancellation at this scale
    assert (D.argmin(axis=1) == np.arange(20)).all()


def test_cosine_handles_zero_rows():
    X = np.zeros((2, 3), dtype=np.float32)
    M = np.eye(3, dtype=np.float32)
    assert np.isfinite(kernels.pairwise_distances(X, M, "cosine")).all()


def test_unknown_metric_is_rejected():
    with pytest.raises(ValueError, match="unknown distance"):
        kernels.pairwise_distances(np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32), "l3")


@pytest.mark.parametrize("k", [1, 3])
def test_nearest_neurons_match_brute_force(rng, k):
    X = rng.random((40, 9), dtype=np.float32)
    M = rng.random((30, 9), dtype=np.float32)
    d, i = kernels.nearest_neurons(X, M, k)
    ref = reference_distances(X, M, "l2")
    expected = np.argsort(ref, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(i, expected)
    np.testing.assert_allclose(d, np.take_along_axis(ref, expected, 1), rtol=1e-4, atol=1e-5)


def test_nearest_neurons_chunks_give_the_same_answer(rng):
    import sklearn

    X = rng.random((300, 16), dtype=np.float32)
    M = rng.random((200, 16), dtype=np.float32)
    whole = kernels.nearest_neurons(X, M, 2)
    with sklearn.config_context(working_memory=0.01):  # ~10 KB: forces many row blocks
        assert len(list(kernels._blocks(300, 200))) > 10
        chunked = kernels.nearest_neurons(X, M, 2)
    np.testing.assert_array_equal(whole[1], chunked[1])


def test_nearest_neurons_ties_go_to_lower_index():
    M = np.array([[1, 0], [1, 0], [0, 0]], dtype=np.float32)
    X = np.array([[1, 0]], dtype=np.float32)
    assert kernels.nearest_neurons(X, M, 1)[1][0, 0] == 0
    assert list(kernels.nearest_neurons(X, M, 2)[1][0]) == [0, 1]


def test_nearest_same_label_only_looks_at_the_same_label(rng):
    X = rng.random((50, 6), dtype=np.float32)
    x_labels = rng.integers(0, 4, 50)
    M = rng.random((25, 6), dtype=np.float32)
    m_labels = rng.integers(0, 3, 25)  # label 3 has no neuron
    d, j = kernels.nearest_same_label(X, x_labels, M, m_labels)
    ref = reference_distances(X, M, "l2")
    for i in range(50):
        same = np.flatnonzero(m_labels == x_labels[i])
        if same.size == 0:
            assert j[i] == -1 and np.isinf(d[i])
        else:
            assert j[i] == same[ref[i, same].argmin()]
            assert d[i] == pytest.approx(ref[i, same].min(), rel=1e-4, abs=1e-5)


def test_nearest_same_label_with_empty_bank():
    d, j = kernels.nearest_same_label(np.ones((3, 2), np.float32), np.zeros(3, int),
                                      np.empty((0, 2), np.float32), np.empty(0, int))
    assert (j == -1).all() and np.isinf(d).all()


def test_scatter_mean_update_equals_sequential_running_means(rng):
    memories = rng.random((6, 4), dtype=np.float32)
    counters = rng.integers(1, 10, 6)
    targets = np.array([2, 0, 2, 5, 2, 0])
    X = rng.random((6, 4), dtype=np.float32)
    ref_m, ref_c = memories.astype(np.float64).copy(), counters.copy()
    for t, x in zip(targets, X):  # the one-by-one rule of the paper
        ref_m[t] = (ref_c[t] * ref_m[t] + x) / (ref_c[t] + 1)
        ref_c[t] += 1
    rows, new_m, new_c = kernels.scatter_mean_update(memories, counters, targets, X)
    np.testing.assert_array_equal(rows, [0, 2, 5])
    np.testing.assert_allclose(new_m, ref_m[rows], rtol=1e-6)
    np.testing.assert_array_equal(new_c, ref_c[rows])
    assert new_m.dtype == np.float32


def test_scatter_mean_update_does_not_modify_its_inputs(rng):
    memories = rng.random((3, 2), dtype=np.float32)
    counters = np.ones(3, dtype=np.int64)
    before = memories.copy(), counters.copy()
    kernels.scatter_mean_update(memories, counters, np.array([1, 1]), np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(memories, before[0])
    np.testing.assert_array_equal(counters, before[1])


def test_nearest_per_class_matches_brute_force(rng):
    X = rng.random((15, 5), dtype=np.float32)
    M = rng.random((20, 5), dtype=np.float32)
    classes = rng.integers(0, 3, 20)  # class 3 has no neuron
    got = kernels.nearest_per_class(X, M, classes, 4)
    ref = reference_distances(X, M, "l2")
    for k in range(3):
        np.testing.assert_allclose(got[:, k], ref[:, classes == k].min(axis=1), rtol=1e-4, atol=1e-5)
    assert np.isinf(got[:, 3]).all()


def test_closest_disjoint_pairs_is_greedy_and_disjoint():
    points = np.array([[0.0], [0.1], [0.15], [5.0], [5.3], [9.0]], dtype=np.float32)
    D = kernels.pairwise_distances(points, points)
    keep, drop = kernels.closest_disjoint_pairs(D, 2)
    assert sorted(zip(keep.tolist(), drop.tolist())) == [(1, 2), (3, 4)]
    keep, drop = kernels.closest_disjoint_pairs(D, 10)  # at most m // 2 pairs exist
    assert len(keep) == 3 and len(set(keep) | set(drop)) == 6


def test_merge_costs_are_wards_growth_of_squared_deviations():
    """For squared L2, the cost of merging two neurons is how much the summed squared deviations of the inputs
    they stand for grow when both are replaced by their counter-weighted mean."""
    rng = np.random.default_rng(0)
    M, counts = rng.normal(size=(7, 5)).astype(np.float32), rng.integers(1, 9, 7)
    costs = kernels.merge_costs(kernels.pairwise_distances(M, M), counts)
    for i in range(7):
        for j in range(7):
            if i != j:
                mean = (counts[i] * M[i] + counts[j] * M[j]) / (counts[i] + counts[j])
                growth = counts[i] * np.sum((M[i] - mean) ** 2) + counts[j] * np.sum((M[j] - mean) ** 2)
                assert costs[i, j] == pytest.approx(growth, rel=1e-4)
    # two heavy neurons are not merged before two light ones a little farther apart
    M = np.array([[0.0], [1.0], [10.0], [11.2]], dtype=np.float32)
    keep, drop = kernels.closest_disjoint_pairs(kernels.merge_costs(kernels.pairwise_distances(M, M),
                                                                    np.array([50, 50, 1, 1])), 1)
    assert (keep.tolist(), drop.tolist()) == ([2], [3])


def test_scatter_mean_update_over_many_row_tiles_is_the_formula_in_float64(rng):
    memories = rng.random((500, 4096), dtype=np.float32)  # 16 rows per tile: the update spans many tiles
    counters = rng.integers(1, 50, 500)
    targets = rng.integers(0, 500, 300)
    X = rng.random((300, 4096), dtype=np.float32)
    rows, new_m, new_c = kernels.scatter_mean_update(memories, counters, targets, X)
    sums = np.zeros((len(rows), 4096), np.float32)
    hits = np.zeros(len(rows), np.int64)
    for t, x in zip(np.searchsorted(rows, targets), X):  # each row's inputs summed in their order, in float32
        sums[t] += x
        hits[t] += 1
    c = counters[rows].astype(np.float64)
    expected = ((memories[rows] * c[:, None] + sums) / (c + hits)[:, None]).astype(np.float32)
    np.testing.assert_array_equal(new_m, expected)
    np.testing.assert_array_equal(new_c, counters[rows] + hits)


def test_nearest_per_class_over_many_tiles_matches_brute_force(rng):
    X = rng.standard_normal((1100, 5), dtype=np.float32)  # three tiles of queries
    M = rng.standard_normal((9000, 5), dtype=np.float32)  # three tiles of neurons, classes shuffled across them
    classes = rng.choice([0, 1, 2, 4, 5, 6], 9000)  # class 3 has no neuron
    got = kernels.nearest_per_class(X, M, classes, 7)
    d = ((X[:, None, :].astype(np.float64) - M[None]) ** 2).sum(-1)
    for k in range(7):
        expected = d[:, classes == k].min(axis=1) if (classes == k).any() else np.full(len(X), np.inf)
        np.testing.assert_allclose(got[:, k], expected, rtol=1e-4, atol=1e-4)
