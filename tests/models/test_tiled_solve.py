"""The tiled Cholesky solve of the streaming discriminant against a dense solve."""

import numpy as np
import pytest
from scipy import linalg

from memorynet.models.tiled_solve import solve_shrunk


def _upper_scatter(n: int, rows: int, dtype, seed: int = 0) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((rows, n)).astype(dtype)
    return np.triu(X.T @ X)  # rank-deficient when rows < n: only the ridge makes it definite


@pytest.mark.parametrize("n, tile", [(37, 8), (64, 16), (50, 50), (50, 200), (101, 33)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_tiled_solve_equals_a_dense_solve_whatever_the_tiles(n, tile, dtype):
    upper = _upper_scatter(n, rows=n // 2, dtype=dtype)
    rhs = np.random.default_rng(1).standard_normal((n, 3))
    dense = upper.astype(np.float64)
    dense = (dense + np.triu(dense, 1).T) * 0.02
    dense.flat[::n + 1] += 0.3
    np.testing.assert_allclose(solve_shrunk(upper, 0.02, 0.3, rhs, tile=tile), linalg.solve(dense, rhs),
                               rtol=1e-9, atol=1e-12)


def test_the_lower_triangle_is_never_read_and_the_input_is_left_as_it_was():
    upper = _upper_scatter(40, rows=60, dtype=np.float32)
    noisy = upper + np.tril(np.full_like(upper, 7.0), -1)
    kept = noisy.copy()
    rhs = np.ones((40, 2))
    np.testing.assert_array_equal(solve_shrunk(noisy, 0.1, 0.1, rhs, tile=16), solve_shrunk(upper, 0.1, 0.1, rhs,
                                                                                            tile=16))
    np.testing.assert_array_equal(noisy, kept)


def test_a_matrix_that_is_not_definite_is_refused_with_the_fix():
    upper = _upper_scatter(20, rows=5, dtype=np.float64)
    with pytest.raises(np.linalg.LinAlgError, match="raise shrinkage"):
        solve_shrunk(upper, 1.0, -1e-3, np.ones((20, 1)), tile=8)
