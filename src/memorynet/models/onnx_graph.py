"""Building blocks of the ONNX graphs of the memory models: fixed preprocessing, patches, distances to neurons,
per-class minima, votes and linear readouts, each a few standard operators (opset :data:`OPSET`).

A :class:`GraphBuilder` collects nodes and constants; every method takes and returns tensor names. The numbers
follow the package's own kernels step by step (same operations, same order), so ONNX Runtime's predictions equal
the package's except where float32 rounding of a product splits a near-tie.
"""

from __future__ import annotations

import importlib

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["OPSET", "GraphBuilder", "require_onnx"]

OPSET = 18


def require_onnx():
    """The ``onnx`` module, or an ImportError that says how to install it."""
    try:
        return importlib.import_module("onnx")
    except ImportError as error:
        raise ImportError("ONNX export needs the onnx package: pip install 'memorynet[onnx]'") from error


class GraphBuilder:
    """Nodes and constants of one graph under construction; names are made unique by a counter."""

    def __init__(self):
        self.onnx = require_onnx()
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, hint: str = "const") -> str:
        """A constant tensor (kept at its NumPy dtype; strings as ONNX strings)."""
        name = self._name(hint)
        array = np.asarray(value)
        if array.dtype.kind in "UO":
            tensor = self.onnx.helper.make_tensor(name, self.onnx.TensorProto.STRING, array.shape,
                                                  [str(v).encode() for v in array.ravel()])
        else:
            tensor = self.onnx.numpy_helper.from_array(array, name)
        self.initializers.append(tensor)
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attributes):
        """Add one node; returns its output name (or names, when ``outputs`` > 1)."""
        names = [self._name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else names

    def axes(self, *axes: int) -> str:
        return self.const(np.array(axes, dtype=np.int64), "axes")

    # ------------------------------------------------------------------------------------------------------------
    # Fixed preprocessing (models/preprocessing.py), on images (N, C, H, W) float32

    def scale(self, x: str, pixel_max: float) -> str:
        return self.op("Div", x, self.const(np.float32(pixel_max)))

    def standardize(self, x: str, pixel_max: float) -> str:
        x = self.scale(x, pixel_max)
        mean = self.op("ReduceMean", x, self.axes(1, 2, 3), keepdims=1)
        centred = self.op("Sub", x, mean)
        std = self.op("Sqrt", self.op("ReduceMean", self.op("Mul", centred, centred), self.axes(1, 2, 3), keepdims=1))
        return self.op("Div", centred, self.op("Max", std, self.const(np.float32(1e-6))))

    def grayscale(self, x: str, pixel_max: float) -> str:
        return self.op("ReduceMean", self.scale(x, pixel_max), self.axes(1), keepdims=1)

    def blur(self, x: str, sigma: float, height: int, width: int) -> str:
        """SciPy's Gaussian filter (``mode="reflect"``) over rows and columns, as two fixed matrix products."""
        rows = gaussian_filter1d(np.eye(height), sigma, axis=0, mode="reflect").astype(np.float32)
        cols = gaussian_filter1d(np.eye(width), sigma, axis=0, mode="reflect").astype(np.float32)
        x = self.op("MatMul", x, self.const(np.ascontiguousarray(cols.T), "blur_cols"))
        return self.op("MatMul", self.const(rows, "blur_rows"), x)

    def lcn(self, x: str, pixel_max: float, height: int, width: int, sigma: float = 2.0) -> str:
        x = self.scale(x, pixel_max)
        centred = self.op("Sub", x, self.blur(x, sigma, height, width))
        local_std = self.op("Sqrt", self.blur(self.op("Mul", centred, centred), sigma, height, width))
        floor = self.op("ReduceMean", local_std, self.axes(2, 3), keepdims=1)
        floor = self.op("Max", floor, self.const(np.float32(1e-4)))
        return self.op("Div", centred, self.op("Max", local_std, floor))

    def dog(self, x: str, pixel_max: float, height: int, width: int) -> str:
        x = self.scale(x, pixel_max)
        return self.op("Sub", self.blur(x, 1.0, height, width), self.blur(x, 2.0, height, width))

    def opponent(self, x: str, pixel_max: float) -> str:
        x = self.scale(x, pixel_max)
        r, g, b = self.op("Split", x, self.const(np.array([1, 1, 1], dtype=np.int64)), outputs=3, axis=1)
        luminance = self.op("Div", self.op("Sum", r, g, b), self.const(np.float32(3)))
        red_green = self.op("Sub", r, g)
        blue_yellow = self.op("Sub", self.op("Div", self.op("Add", r, g), self.const(np.float32(2))), b)
        return self.op("Concat", luminance, red_green, blue_yellow, axis=1)

    def deskew(self, x: str, pixel_max: float, height: int, width: int) -> str:
        """preprocessing.deskew: the moments as reductions, the shear as a sampling grid (bilinear, zeros
        outside: ``GridSample``)."""
        f32 = np.float32
        x = self.scale(x, pixel_max)
        rows = self.const(np.arange(height, dtype=f32).reshape(1, 1, height, 1), "rows")
        cols = self.const(np.arange(width, dtype=f32).reshape(1, 1, 1, width), "cols")

        def total(v: str, *axes: int) -> str:
            return self.op("ReduceSum", v, self.axes(*axes), keepdims=1)

        mass = total(x, 1)
        mass_total = total(mass, 2, 3)
        weight = self.op("Where", self.op("Greater", mass_total, self.const(f32(0))),
                         self.op("Reciprocal", self.op("Max", mass_total, self.const(f32(1e-30)))), self.const(f32(0)))
        row_mass, col_mass = total(mass, 3), total(mass, 2)
        centre_row = self.op("Mul", total(self.op("Mul", row_mass, rows), 2, 3), weight)
        centre_col = self.op("Mul", total(self.op("Mul", col_mass, cols), 2, 3), weight)
        row_offsets = self.op("Sub", rows, centre_row)
        row_variance = self.op("Mul", total(self.op("Mul", row_mass, self.op("Mul", row_offsets, row_offsets)), 2, 3),
                               weight)
        covariance = self.op("Mul", total(self.op("Mul", self.op("Mul", mass, row_offsets), cols), 2, 3), weight)
        slant = self.op("Where", self.op("Greater", row_variance, self.const(f32(1e-12))),
                        self.op("Div", covariance, self.op("Max", row_variance, self.const(f32(1e-12)))),
                        self.const(f32(0)))
        offsets = self.const(np.arange(height, dtype=f32).reshape(1, 1, height, 1) - f32((height - 1) / 2), "offsets")
        read_rows = self.op("Add", self.op("Add", offsets, centre_row), self.const(np.zeros((1, 1, 1, width), f32)))
        read_cols = self.op("Add", self.op("Add", self.const(np.arange(width, dtype=f32).reshape(1, 1, 1, width)
                                                             - f32((width - 1) / 2)), centre_col),
                            self.op("Mul", slant, offsets))

        def normalised(v: str, size: int) -> str:  # pixel index -> GridSample's [-1, 1] (align_corners=0)
            scaled = self.op("Mul", self.op("Add", v, self.const(f32(0.5))), self.const(f32(2 / size)))
            return self.op("Transpose", self.op("Sub", scaled, self.const(f32(1))), perm=[0, 2, 3, 1])

        grid = self.op("Concat", normalised(read_cols, width), normalised(read_rows, height), axis=3)
        return self.op("GridSample", x, grid, mode="bilinear", padding_mode="zeros", align_corners=0)

    def chain(self, x: str, chain: str, pixel_max: float, height: int, width: int) -> str:
        """A preprocessing chain ``"a+b"``: the first step on raw intensities, the next ones on [0, 1] scale."""
        from .preprocessing import check_chain
        steps = {"raw": lambda x, top: x, "scale": self.scale, "standardize": self.standardize,
                 "grayscale": self.grayscale, "opponent": self.opponent,
                 "lcn": lambda x, top: self.lcn(x, top, height, width),
                 "dog": lambda x, top: self.dog(x, top, height, width),
                 "deskew": lambda x, top: self.deskew(x, top, height, width)}
        for i, step in enumerate(check_chain(chain)):
            x = steps[step](x, pixel_max if i == 0 else 1.0)
        return x

    # ------------------------------------------------------------------------------------------------------------
    # Rows, distances, minima

    def flatten(self, x: str) -> str:
        """(N, ...) -> (N, D)."""
        return self.op("Flatten", x, axis=1)

    def patch(self, images: str, corner: tuple[int, int], shape: tuple[int, int]) -> str:
        """The patch at ``corner`` of every image, as rows (N, C*h*w)."""
        (r, c), (h, w) = corner, shape
        patch = self.op("Slice", images, self.const(np.array([r, c], dtype=np.int64)),
                        self.const(np.array([r + h, c + w], dtype=np.int64)), self.axes(2, 3))
        return self.flatten(patch)

    def columns(self, x: str, features: slice) -> str:
        return self.op("Slice", x, self.const(np.array([features.start], dtype=np.int64)),
                       self.const(np.array([features.stop], dtype=np.int64)), self.axes(1))

    def distances(self, rows: str, memories: np.ndarray, metric: str) -> str:
        """(N, m) float32 distances from ``rows`` to ``memories`` as the package's kernels compute them:
        ``"l2"`` squared, ``(-2 x) m^T + |m|^2 + |x|^2`` clamped at zero; ``"cosine"`` ``1 - cos``."""
        memories = np.asarray(memories, dtype=np.float32)
        if metric == "cosine":
            norms = np.sqrt(np.einsum("ij,ij->i", memories, memories))
            unit = memories / np.where(norms == 0, np.float32(1), norms)[:, None]
            norm = self.op("Sqrt", self.op("ReduceSum", self.op("Mul", rows, rows), self.axes(1), keepdims=1))
            zero = self.op("Equal", norm, self.const(np.float32(0)))
            x = self.op("Div", rows, self.op("Where", zero, self.const(np.float32(1)), norm))
            return self.op("Sub", self.const(np.float32(1)), self.op("MatMul", x, self.const(unit.T.copy())))
        if metric != "l2":
            raise NotImplementedError(f"distance {metric!r} has no ONNX form here; export models with distance "
                                      "'l2' or 'cosine'")
        m_norms = np.einsum("ij,ij->i", memories, memories)
        scores = self.op("Add", self.op("MatMul", self.op("Mul", rows, self.const(np.float32(-2))),
                                        self.const(np.ascontiguousarray(memories.T), "memories")),
                         self.const(m_norms, "memory_norms"))
        scores = self.op("Add", scores, self.op("ReduceSum", self.op("Mul", rows, rows), self.axes(1), keepdims=1))
        return self.op("Max", scores, self.const(np.float32(0)))

    def class_distances(self, rows: str, memories: np.ndarray, classes: np.ndarray, n_classes: int,
                        metric: str) -> str:
        """(N, n_classes): the distance from ``rows`` to the nearest neuron of each class (``inf`` for a class
        with none), the neurons taken class by class as the package's kernel does."""
        order = np.argsort(classes, kind="stable")
        present, counts = np.unique(classes, return_counts=True)
        distances = self.distances(rows, memories[order], metric)
        parts = self.op("Split", distances, self.const(counts.astype(np.int64)), outputs=len(present), axis=1)
        parts = [parts] if len(present) == 1 else parts
        minima = dict(zip(present.tolist(), (self.op("ReduceMin", p, self.axes(1), keepdims=1) for p in parts)))
        if len(present) < n_classes:
            minima = {c: minima.get(c) or self.fill(rows, np.inf) for c in range(n_classes)}
        return self.op("Concat", *(minima[c] for c in range(n_classes)), axis=1)

    def fill(self, like: str, value: float, width: int = 1) -> str:
        """(N, ``width``) float32 of ``value``, N the rows of ``like``."""
        n = self.op("Shape", like, end=1)
        return self.op("Expand", self.const(np.full((1, width), value, dtype=np.float32)),
                       self.op("Concat", n, self.const(np.array([width], dtype=np.int64)), axis=0))

    def nearest(self, distances: str, k: int) -> tuple[str, str]:
        """(distances, indices) of the ``k`` nearest neurons, each (N, k), nearest first."""
        return self.op("TopK", distances, self.const(np.array([k], dtype=np.int64)), outputs=2, largest=0, sorted=1)

    def tally(self, neighbors: list[tuple[str, str]], neuron_classes: list[np.ndarray], n_classes: int,
              weights: str = "uniform") -> tuple[str, str]:
        """(votes, nearest), each (N, n_classes): the summed vote weights of each class over the voters'
        neighbours (engine/voting.py), and the distance to its nearest neuron among them (``inf`` if none).
        ``neighbors`` holds each voter's (distances, indices) (N, k) into neurons of classes ``neuron_classes``."""
        depth = self.const(np.array([n_classes], dtype=np.int64))
        off_on = self.const(np.array([0, 1], dtype=np.float32))
        tallies, nearest = [], []
        for (distances, indices), classes in zip(neighbors, neuron_classes):
            hot = self.op("OneHot", self.op("Gather", self.const(classes.astype(np.int64)), indices), depth, off_on)
            weight = self.op("Expand", self.const(np.float32(1)), self.op("Shape", distances))
            if weights == "distance":  # 1/d; a voter with an exact match gives it weight 1 and the others 0
                exact = self.op("Cast", self.op("Equal", distances, self.const(np.float32(0))), to=1)
                has_exact = self.op("Cast", self.op("ReduceMax", exact, self.axes(1), keepdims=1), to=9)
                weight = self.op("Where", has_exact, exact, self.op("Reciprocal", distances))
            tallies.append(self.op("ReduceSum", self.op("Mul", hot, self.op("Unsqueeze", weight, self.axes(2))),
                                   self.axes(1), keepdims=0))
            far = self.op("Where", self.op("Cast", hot, to=9), self.op("Unsqueeze", distances, self.axes(2)),
                          self.const(np.float32(np.inf)))
            nearest.append(self.op("ReduceMin", far, self.axes(1), keepdims=0))
        return self.op("Sum", *tallies), self.op("Min", *nearest)

    def decide(self, votes: str, nearest: str) -> str:
        """Class index (N,) with the most votes; ties go to the class with the nearest neuron, then the lowest."""
        top = self.op("ReduceMax", votes, self.axes(1), keepdims=1)
        margin = self.op("Mul", self.op("ReduceMax", self.op("Abs", votes), self.axes(1), keepdims=1),
                         self.const(np.float32(1e-12)))
        tied = self.op("GreaterOrEqual", votes, self.op("Sub", top, margin))
        return self.op("ArgMin", self.op("Where", tied, nearest, self.const(np.float32(np.inf))), axis=1, keepdims=0)

    def whiten(self, rows: str, mean: np.ndarray, matrix: np.ndarray) -> str:
        """``(rows - mean) @ matrix`` in float64, back to float32."""
        x = self.op("Sub", self.op("Cast", rows, to=11), self.const(np.asarray(mean, dtype=np.float64), "mean"))
        return self.op("Cast", self.op("MatMul", x, self.const(np.asarray(matrix, dtype=np.float64), "whitening")),
                       to=1)

    def triangle(self, rows: str, prototypes: np.ndarray, width: int) -> str:
        """(N, ``width``) triangle codes ``max(0, mean_k(z) - z_k)``, ``z`` the Euclidean distances to the
        prototypes; columns beyond the prototypes are zero."""
        if not len(prototypes):
            return self.fill(rows, 0.0, width)
        z = self.op("Sqrt", self.distances(rows, prototypes, "l2"))
        codes = self.op("Max", self.op("Sub", self.op("ReduceMean", z, self.axes(1), keepdims=1), z),
                        self.const(np.float32(0)))
        if width > len(prototypes):
            codes = self.op("Pad", codes, self.const(np.array([0, 0, 0, width - len(prototypes)], dtype=np.int64)))
        return codes

    def linear(self, features: str, weights: np.ndarray, bias: np.ndarray) -> str:
        """``features @ weights + bias`` in float64 (the readouts' precision)."""
        x = self.op("Cast", features, to=11)
        return self.op("Add", self.op("MatMul", x, self.const(np.asarray(weights, dtype=np.float64), "weights")),
                       self.const(np.asarray(bias, dtype=np.float64), "bias"))

    def softmax_of_scores(self, scores: str, spread: bool = False) -> str:
        """``exp(s - max) / sum``, with ``s`` divided by its row's standard deviation (at least 1e-12) first when
        ``spread``."""
        top = self.op("ReduceMax", scores, self.axes(1), keepdims=1)
        shifted = self.op("Sub", scores, top)
        if spread:
            mean = self.op("ReduceMean", scores, self.axes(1), keepdims=1)
            centred = self.op("Sub", scores, mean)
            std = self.op("Sqrt", self.op("ReduceMean", self.op("Mul", centred, centred), self.axes(1), keepdims=1))
            floor = self.const(np.array(1e-12, dtype=np.float64))
            shifted = self.op("Div", shifted, self.op("Max", std, floor))
        weights = self.op("Exp", shifted)
        return self.op("Div", weights, self.op("ReduceSum", weights, self.axes(1), keepdims=1))

    def standardised(self, scores: str) -> str:
        """Each row less its mean over its finite entries, over their spread (at least 1e-12); ``-inf`` where an
        entry is infinite (:func:`memorynet.models.side_by_side.standardised_evidence`, scores oriented already)."""
        finite = self.op("Not", self.op("IsInf", scores))
        zero = self.const(np.array(0.0, dtype=np.float64))
        count = self.op("Max", self.op("ReduceSum", self.op("Cast", finite, to=11), self.axes(1), keepdims=1),
                        self.const(np.array(1.0, dtype=np.float64)))
        values = self.op("Where", finite, scores, zero)
        mean = self.op("Div", self.op("ReduceSum", values, self.axes(1), keepdims=1), count)
        centred = self.op("Where", finite, self.op("Sub", values, mean), zero)
        spread = self.op("Sqrt", self.op("Div", self.op("ReduceSum", self.op("Mul", centred, centred), self.axes(1),
                                                        keepdims=1), count))
        floor = self.const(np.array(1e-12, dtype=np.float64))
        return self.op("Where", finite, self.op("Div", centred, self.op("Max", spread, floor)),
                       self.const(np.array(-np.inf, dtype=np.float64)))

    def share(self, scores: str) -> str:
        """Each row divided by its sum."""
        return self.op("Div", scores, self.op("ReduceSum", scores, self.axes(1), keepdims=1))
