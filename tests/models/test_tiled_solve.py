"""The packed tiles of the streaming discriminant's scatter and their tiled Cholesky solve, against dense maths."""

import tracemalloc

import numpy as np
import pytest
from scipy import linalg

from memorynet.models import tiled_scatter, tiled_solve
from memorynet.models.tiled_solve import solve_shrunk


def _rows(n: int, count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, n))


def _dense_solve(scatter: np.ndarray, scale: float, ridge: float, rhs: np.ndarray) -> np.ndarray:
    dense = scatter * scale
    dense.flat[::len(dense) + 1] += ridge
    return linalg.solve(dense, rhs)


@pytest.mark.parametrize("n, tile", [(37, 8), (64, 16), (50, 50), (50, 200), (101, 33)])
def test_the_tiles_cover_the_side_with_equal_tiles_and_the_least_padding(n, tile):
    pairs, side, _ = tiled_scatter.tile_shape(n, tile)
    per_side = tiled_scatter.tile_count(np.empty((pairs, 1, 1)))
    assert pairs == per_side * (per_side + 1) // 2 and side <= tile
    assert (per_side - 1) * side < n <= per_side * side and per_side == -(-n // tile)


@pytest.mark.parametrize("n, tile", [(37, 8), (64, 16), (50, 200), (101, 33)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rank_updates_pack_and_unpack_hold_the_symmetric_product(n, tile, dtype):
    first, second = _rows(n, 30), _rows(n, 12, seed=1)
    tiles = tiled_scatter.zeros(n, dtype, tile)
    tiled_scatter.add_rank(tiles, first.astype(dtype))
    tiled_scatter.add_rank(tiles, second.astype(dtype))
    expected = first.T @ first + second.T @ second
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(tiled_scatter.unpack(tiles, n), expected, rtol=tolerance, atol=tolerance * 30)
    np.testing.assert_array_equal(tiled_scatter.pack(np.triu(expected), np.float64, tile),
                                  tiled_scatter.pack(expected, np.float64, tile))  # the lower triangle unread
    np.testing.assert_allclose(tiled_scatter.unpack(tiled_scatter.pack(expected, dtype, tile), n), expected,
                               rtol=1e-6 if dtype == np.float32 else 0)


@pytest.mark.parametrize("n, tile", [(37, 8), (64, 16), (50, 50), (50, 200), (101, 33)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_tiled_solve_equals_a_dense_solve_whatever_the_tiles(n, tile, dtype):
    scatter = (lambda r: r.T @ r)(_rows(n, n // 2))  # rank-deficient: only the ridge makes it definite
    tiles = tiled_scatter.pack(scatter, dtype, tile)
    exact = tiled_scatter.unpack(tiles, n)
    rhs = np.random.default_rng(1).standard_normal((n, 3))
    np.testing.assert_allclose(solve_shrunk(tiles, n, 0.02, 0.3, rhs), _dense_solve(exact, 0.02, 0.3, rhs),
                               rtol=1e-9, atol=1e-12)


def test_without_a_ridge_the_padding_still_solves_to_zero():
    scatter = (lambda r: r.T @ r)(_rows(37, 200))  # definite on its own
    tiles = tiled_scatter.pack(scatter, np.float64, 8)
    rhs = np.ones((37, 1))
    np.testing.assert_allclose(solve_shrunk(tiles, 37, 1.0, 0.0, rhs), linalg.solve(scatter, rhs), rtol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_matrix_that_is_not_definite_is_refused_with_the_fix_and_left_as_it_was(dtype):
    tiles = tiled_scatter.pack((lambda r: r.T @ r)(_rows(20, 5)), dtype, 8)
    kept = tiles.copy()
    with pytest.raises(np.linalg.LinAlgError, match="raise shrinkage"):
        solve_shrunk(tiles, 20, 1.0, -1e-3, np.ones((20, 1)))
    np.testing.assert_array_equal(tiles, kept)


def test_a_float32_scatter_is_factorised_in_float32_and_refined_to_the_float64_solution(monkeypatch):
    precisions = []
    factor = tiled_solve._factor
    monkeypatch.setattr(tiled_solve, "_factor", lambda t: (precisions.append(t.dtype), factor(t)))
    tiles = tiled_scatter.pack((lambda r: r.T @ r)(_rows(90, 200)), np.float32, 32)
    rhs = np.random.default_rng(2).standard_normal((90, 4))
    refined = solve_shrunk(tiles, 90, 0.01, 1e-3, rhs)
    exact = solve_shrunk(tiles.astype(np.float64), 90, 0.01, 1e-3, rhs)
    assert precisions == [np.float32, np.float64]
    np.testing.assert_allclose(refined, exact, rtol=1e-11, atol=0)


def test_a_refinement_that_does_not_settle_falls_back_to_a_float64_factor(monkeypatch):
    monkeypatch.setattr(tiled_solve, "REFINE_STEPS", 0)
    tiles = tiled_scatter.pack((lambda r: r.T @ r)(_rows(50, 30)), np.float32, 16)
    rhs = np.ones((50, 2))
    np.testing.assert_allclose(solve_shrunk(tiles, 50, 0.05, 0.2, rhs),
                               _dense_solve(tiled_scatter.unpack(tiles, 50), 0.05, 0.2, rhs), rtol=1e-9)


def test_a_float32_solve_holds_one_packed_copy_beyond_the_scatter():
    tiles = tiled_scatter.pack((lambda r: r.T @ r)(_rows(640, 700)), np.float32, 64)
    tracemalloc.start()
    solve_shrunk(tiles, 640, 0.01, 0.01, np.ones((640, 10)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.5 * tiles.nbytes  # a float64 factor alone would take twice the packed tiles
