"""Several memory models learnt side by side in the same pass, their per-class evidence added.

:class:`SideBySideClassifier` keeps one estimator of each kind it is given (the receptive fields' summed class
distances beside the prototype codes' linear discriminant, say). Every image of the stream is presented once, to
every member; each learns from that presentation by its own rule, so the whole stays one-pass, gradient-free and
without weight sharing, and forgets no more than its members do. At prediction each member's evidence is
standardised image by image (less its mean over the classes, over its spread: distances become negated first) and
the standardised evidences are added with ``weights``. ``weights`` is read at prediction only: it can be chosen on a
validation split without fitting again, as the readout's shrinkage is.
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.extmath import softmax
from sklearn.utils.validation import check_is_fitted

from . import persistence
from .base import PARAMETER_CONSTRAINTS, unchanged_on_error
from .memory_network import MemoryNetworkClassifier
from .prototype_codes import PrototypeCodeClassifier
from .receptive_fields import LocalReceptiveFieldClassifier

__all__ = ["MEMBER_KINDS", "SideBySideClassifier", "standardised_evidence", "combined_evidence"]

# the kinds a member may be, by the names the presets and results files give them
MEMBER_KINDS = {"paper": MemoryNetworkClassifier, "receptive-fields": LocalReceptiveFieldClassifier,
                "codes": PrototypeCodeClassifier}
_SPREAD_FLOOR = 1e-12
_SHARED = ("shuffle", "random_state", "n_jobs", "verbose")  # the side-by-side model's own, passed to its members


def standardised_evidence(evidence: np.ndarray, larger_is_better: bool) -> np.ndarray:
    """(n, n_classes) ``evidence`` oriented so that larger is better, then, image by image, less its mean over the
    classes with finite evidence and divided by their spread (at least 1e-12); ``-inf`` for a class without any."""
    oriented = np.asarray(evidence, dtype=np.float64) * (1.0 if larger_is_better else -1.0)
    finite = np.isfinite(oriented)
    count = np.maximum(finite.sum(axis=1, keepdims=True), 1)
    values = np.where(finite, oriented, 0.0)
    centred = np.where(finite, values - values.sum(axis=1, keepdims=True) / count, 0.0)
    spread = np.sqrt((centred ** 2).sum(axis=1, keepdims=True) / count)
    return np.where(finite, centred / np.maximum(spread, _SPREAD_FLOOR), -np.inf)


def combined_evidence(standardised: list[np.ndarray], weights) -> np.ndarray:
    """The weighted sum of the members' standardised evidences (``-inf`` where any member has none)."""
    total = np.zeros_like(standardised[0])
    for evidence, weight in zip(standardised, weights):
        total += evidence if weight == 1 else np.where(np.isinf(evidence), evidence, weight * evidence)
    return total


def _comparable(params: dict) -> dict:
    """Parameters as a model file gives them back (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _check_members(members) -> list[tuple[str, dict]]:
    """``members`` as (kind, params) pairs, or a ValueError naming what is wrong."""
    if not isinstance(members, list | tuple) or not members:
        raise ValueError(f"members must be a non-empty list of (kind, params) pairs, got {members!r}")
    out = []
    for member in members:
        if not isinstance(member, list | tuple) or len(member) != 2 or not isinstance(member[1], dict):
            raise ValueError(f"each member is a (kind, params) pair such as ('codes', {{'max_neurons': 128}}), got "
                             f"{member!r}")
        kind, params = member
        if kind not in MEMBER_KINDS:
            raise ValueError(f"unknown member kind {kind!r}; choose from {', '.join(MEMBER_KINDS)}")
        owned = sorted(set(_SHARED) & set(params))
        if owned:
            raise ValueError(f"member parameters {owned} are the side-by-side model's own: set them on it")
        out.append((kind, dict(params)))
    return out


class SideBySideClassifier(persistence.SavesToModelFile, ClassifierMixin, BaseEstimator):
    """Memory models of different kinds learnt side by side from one pass, their standardised evidence added.

    Parameters
    ----------
    members : list of (kind, params) pairs
        The models kept side by side: ``kind`` one of :data:`MEMBER_KINDS` (``"paper"``, ``"receptive-fields"``,
        ``"codes"``), ``params`` its estimator's parameters (all but ``shuffle``, ``random_state``, ``n_jobs`` and
        ``verbose``, which this model passes on to every member that takes them).
    weights : list of float or None, default=None
        Weight of each member's standardised evidence (``None``: equal weights). Read at prediction only.
    shuffle : bool, default=True
        Passed to every member: whether ``fit`` presents the images in a random order (each member draws its own
        from ``random_state``) or as given.
    random_state : int or None, default=None
        Passed to every member.
    n_jobs, verbose :
        Passed to every member.

    Attributes
    ----------
    estimators_ : list of fitted estimators, one per member, in the order of ``members``.
    classes_, image_shape_, n_features_in_, n_samples_seen_ : as the members have them (the same for all).
    """

    holds_members = True  # a model file stores each member's state (memorynet.models.persistence)
    _parameter_constraints: dict = {"members": [list, tuple], "weights": [None, list, tuple],
                                    **{key: PARAMETER_CONSTRAINTS[key] for key in _SHARED}}

    def __init__(self, members=(("receptive-fields", {}), ("codes", {})), weights=None, *, shuffle: bool = True,
                 random_state=None, n_jobs: int | None = None, verbose: bool = False):
        self.members = members
        self.weights = weights
        self.shuffle = shuffle
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ------------------------------------------------------------------------------------------------------------
    # Parameters and members

    def _validate_params(self) -> None:
        super()._validate_params()
        members = _check_members(self.members)
        self._member_weights(len(members))
        for kind, params in members:
            try:
                MEMBER_KINDS[kind](**params)._validate_params()
            except (TypeError, ValueError) as exc:
                raise ValueError(f"member {kind!r}: {exc}") from exc

    def _member_weights(self, n_members: int) -> np.ndarray:
        weights = np.ones(n_members) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        if weights.shape != (n_members,) or not np.isfinite(weights).all() or weights.min() < 0 or not weights.any():
            raise ValueError(f"weights must be {n_members} finite non-negative numbers, not all zero (one per "
                             f"member), got {self.weights!r}")
        return weights

    def _member(self, kind: str, params: dict):
        """An unfitted member: ``params`` and this model's own :data:`_SHARED` parameters (those the kind takes)."""
        cls = MEMBER_KINDS[kind]
        takes = inspect.signature(cls).parameters
        return cls(**params, **{key: getattr(self, key) for key in _SHARED if key in takes})

    def _new_members(self) -> list:
        return [self._member(kind, params) for kind, params in _check_members(self.members)]

    def __getattr__(self, name: str):
        fitted = {"classes_", "image_shape_", "n_features_in_", "n_samples_seen_"}
        if name in fitted and "estimators_" in self.__dict__:
            return getattr(self.__dict__["estimators_"][0], name)
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    # ------------------------------------------------------------------------------------------------------------
    # Learn

    @unchanged_on_error
    def fit(self, X, y):
        """Learn from (X, y) in one pass, every member from the same presentation of each image. Returns ``self``."""
        self._validate_params()
        members = self._new_members()
        for member in members:
            member.fit(X, y)
        self.estimators_ = members
        return self

    @unchanged_on_error
    def partial_fit(self, X, y, classes=None):
        """Continue the pass on a chunk of the stream, given to every member in the order given. Returns ``self``.

        The members hold the same image shape and classes, so a chunk of the wrong shape is refused by the first
        member's own checks, before any member learns from it."""
        first = "estimators_" not in self.__dict__
        if first:
            self._validate_params()
        members = self._new_members() if first else self.estimators_
        for member in members:
            member.partial_fit(X, y, classes)
        self.estimators_ = members
        return self

    # ------------------------------------------------------------------------------------------------------------
    # Predict

    def member_evidence(self, X) -> list[np.ndarray]:
        """Each member's standardised evidence, (n, n_classes) each (see :func:`standardised_evidence`)."""
        check_is_fitted(self)
        out = []
        for member in self.estimators_:
            evidence, _, larger_is_better = member._class_evidence(X)
            out.append(standardised_evidence(evidence, larger_is_better))
        return out

    def _combined(self, X) -> np.ndarray:
        return combined_evidence(self.member_evidence(X), self._member_weights(len(self.estimators_)))

    def decision_function(self, X) -> np.ndarray:
        """(n, n_classes): the members' standardised evidences added with ``weights``; with two classes,
        scikit-learn's (n,): the second class's less the first's."""
        scores = self._combined(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict(self, X) -> np.ndarray:
        """The class of the largest combined evidence, (n,)."""
        scores = self._combined(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """A softmax of the combined evidence (a ranking aid, not a calibrated probability; an image's scores never
        depend on the other images of the batch)."""
        return softmax(self._combined(X), copy=False)

    @property
    def n_neurons_(self) -> int:
        """Neurons (and prototypes) in use, over every member."""
        check_is_fitted(self)
        return sum(member.n_neurons_ for member in self.estimators_)

    def class_sizes(self) -> tuple[np.ndarray, str]:
        """The first member's :meth:`class_sizes` (what the class budget holds)."""
        check_is_fitted(self)
        return self.estimators_[0].class_sizes()

    # ------------------------------------------------------------------------------------------------------------
    # Save and export

    def adopt(self, estimators: list) -> SideBySideClassifier:
        """Take fitted ``estimators`` (one per member, as a model file holds them) as this model's members; a
        ValueError if they are not the kinds and parameters of ``members``, or disagree on classes or images.
        Returns ``self``."""
        members = _check_members(self.members)
        expected = [self._member(kind, params).get_params() for kind, params in members]
        if [type(e) for e in estimators] != [MEMBER_KINDS[kind] for kind, _ in members] or any(
                _comparable(e.get_params()) != _comparable(want) for e, want in zip(estimators, expected)):
            raise ValueError("the members stored are not those the side-by-side model's parameters name")
        first = estimators[0]
        if any(not np.array_equal(e.classes_, first.classes_) or e.image_shape_ != first.image_shape_
               or e.n_samples_seen_ != first.n_samples_seen_ for e in estimators):
            raise ValueError("the members disagree on the classes, the image shape or the images seen")
        self.estimators_ = list(estimators)
        return self

    def to_onnx(self, path=None, *, class_names: list[str] | None = None):
        """This fitted model as an ONNX model (see :func:`memorynet.export_onnx`)."""
        from .onnx_export import export_onnx

        return export_onnx(self, path, class_names=class_names)

    def _onnx_scores(self, g, images: str) -> tuple[str, str]:
        total = None
        for member, weight in zip(self.estimators_, self._member_weights(len(self.estimators_))):
            evidence = g.standardised(member._onnx_evidence(g, images))
            if weight != 1:
                evidence = g.op("Where", g.op("IsInf", evidence), evidence,
                                g.op("Mul", evidence, g.const(np.array(weight, dtype=np.float64))))
            total = evidence if total is None else g.op("Add", total, evidence)
        return g.softmax_of_scores(total), g.op("ArgMax", total, axis=1, keepdims=0)


persistence.ESTIMATORS[SideBySideClassifier.__name__] = SideBySideClassifier
