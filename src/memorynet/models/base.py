"""The base every memorynet estimator shares: parameters, input validation, image shapes, the one-pass protocol
(``fit`` resets and calls the same learning step as ``partial_fit``), searchers, and saving / loading.

A subclass declares its banks (:meth:`MemoryEstimator._new_banks`), how a batch of images reaches them
(:meth:`MemoryEstimator._learn_rows`) and how it predicts; everything else is here, once.

There are two kinds of model, each with its own base: models whose memories carry labels
(:class:`~memorynet.models.labelled.LabelledMemoryEstimator`: the paper's model, receptive fields) and models made
of an unlabelled feature stage and a readout (:class:`~memorynet.models.feature_readout.FeatureReadoutEstimator`:
prototype codes). Both answer the same public protocol, which the CLI, the web page, Dask training and the
experiments use instead of any private member:

- show: :meth:`memory_view` (one bank as images; ``labels`` is ``None`` for unlabelled memories),
  :meth:`nearest_neurons`, :meth:`class_images` and :meth:`class_sizes`;
- explain: :meth:`explain` (prediction, class scores, the model's own per-class evidence, nearest neurons);
- teach: ``add_classes`` (new labels on a fitted model) and ``teach`` (one lesson, learnt at once);
- merge: ``merge`` (two models of one stream's shards into one) and :attr:`sequential_prefix` (images a stream must
  give one learner before it can be split into shards).
"""

from __future__ import annotations

import copy
import functools
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm.auto import tqdm

from ..engine import kernels
from ..engine.bank import NeuronBank
from ..engine.device import DeviceOnePassRule
from ..engine.rule import LearningRule, NoRoomForClass, OnePassRule
from ..engine.searchers import SEARCH_BACKENDS, Searcher, make_searcher
from . import persistence

__all__ = ["MemoryEstimator", "PARAMETER_CONSTRAINTS"]

_MAX_ABS_INPUT = 1e15  # (1e15)^2 times any realistic feature count stays below float32's 3.4e38
MAX_P = 1000.0  # beyond, |x|^p leaves float64's range for ordinary data and the Minkowski distance degenerates

# Every parameter of every estimator, validated and documented once (see each estimator's docstring).
PARAMETER_CONSTRAINTS: dict = {
    "max_neurons": [Interval(Integral, 1, None, closed="left")],
    "threshold": [None, Real, str],  # the forms a threshold takes: models.thresholds.parse_threshold
    "distance": [StrOptions(set(kernels.METRICS))],
    "p": [Interval(Real, 1, MAX_P, closed="both")],
    "n_neighbors": [Interval(Integral, 1, None, closed="left")],
    "weights": [StrOptions({"uniform", "distance"})],
    "channel_voting": ["boolean"],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "image_shape": [None, tuple, list],
    "new_label_policy": [StrOptions({"reserve", "error"})],
    "class_budget": [StrOptions({"fair", "shared", "balanced"})],
    "consolidate": ["boolean"],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
    "search_backend": [StrOptions(set(SEARCH_BACKENDS)), callable],
    "learning_rule": [None, callable],
    "verbose": ["verbose"],
    "patch_size": [Interval(Integral, 1, None, closed="left")],
    "stride": [Interval(Integral, 1, None, closed="left")],
    "patch_jitter": [Interval(Integral, 0, None, closed="left")],
    "combine": [StrOptions({"distance", "vote"})],
    "n_jobs": [None, Integral],
}


def unchanged_on_error(method):
    """Decorator: if ``method`` raises, the estimator's attributes are put back as they were before the call."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        before = dict(self.__dict__)
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
    return wrapper


def _flatten(X):
    """Accept (n, D), (n, H, W) or (n, C, H, W); return (rows, the image shape the input implies or None)."""
    ndim = getattr(X, "ndim", None)
    if ndim is None and not hasattr(X, "__array__") and not hasattr(X, "tocsr"):
        X = np.asarray(X)
        ndim = X.ndim
    if ndim in (3, 4):
        shape = X.shape[1:] if ndim == 4 else (1, *X.shape[1:])
        return np.asarray(X).reshape(len(X), -1), tuple(int(s) for s in shape)
    return X, None


class MemoryEstimator(persistence.SavesToModelFile, ClassifierMixin, BaseEstimator):
    """Shared machinery of the memory classifiers (not an estimator by itself).

    Subclasses set ``_parameter_constraints`` from :data:`PARAMETER_CONSTRAINTS` and implement
    :meth:`_new_banks`, :meth:`_learn_rows`, :meth:`_rule` and prediction.
    """

    _empty_banks_allowed = False  # a fitted model has a neuron in every bank
    labelled_memories: bool  # the kind of model: whether every neuron carries a class label
    sequential_prefix_attribute: str | None = None  # parameter naming the images one learner must see first

    def _bank_inputs_per_sample(self) -> int:
        """The most inputs one sample teaches a bank (its counters record at most this many per sample)."""
        return 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        persistence.ESTIMATORS[cls.__name__] = cls  # model files name the estimator class

    # ------------------------------------------------------------------------------------------------------------
    # Hooks for subclasses

    def _default_image_shape(self, n_features: int) -> tuple[int, int, int]:
        """Image shape of flat (n, D) input when ``image_shape`` is not given."""
        return (1, 1, n_features)

    def _check_layout(self, shape: tuple[int, int, int]) -> None:
        """Refuse an image shape this model cannot work with (raise ``ValueError``)."""

    def _new_banks(self) -> list[NeuronBank]:
        """Empty banks for the fitted image shape."""
        raise NotImplementedError

    def _learn_rows(self, X: np.ndarray, classes: np.ndarray, order: np.ndarray | None) -> None:
        """Learn the rows ``X`` (n, C*H*W) with class indices ``classes``, in ``order``."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------------------------
    # Input handling

    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        """(n, C*H*W) float32 rows; on ``reset`` also fixes ``image_shape_``."""
        X, implied = _flatten(X)
        X = validate_data(self, X, reset=reset, dtype=np.float32, order="C")
        largest = max(float(X.max()), -float(X.min())) if X.size else 0.0  # no |X| temporary
        if largest > _MAX_ABS_INPUT:
            raise ValueError(f"input values reach {largest:.3g}; squared distances would overflow float32 "
                             f"beyond ±{_MAX_ABS_INPUT:g}: scale the input (e.g. memorynet.scale_pixels)")
        if reset:
            shape = self.image_shape if self.image_shape is not None else implied
            shape = self._default_image_shape(X.shape[1]) if shape is None else shape
            if (len(shape) != 3 or not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0
                                           for s in shape)
                    or int(np.prod(shape)) != X.shape[1]):
                raise ValueError(f"image_shape={tuple(shape)} does not match the {X.shape[1]} features per sample; "
                                 "give (C, H, W), three positive integers with C * H * W equal to the number of "
                                 "features")
            shape = tuple(int(s) for s in shape)
            self._check_layout(shape)
            self.image_shape_ = shape
        elif implied is not None and implied != self.image_shape_:
            raise ValueError(f"images of shape {implied} given to a model fitted on images of shape "
                             f"{self.image_shape_}; resize or reshape them to match")
        return X

    def _validate_Xy(self, X, y, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X = self._validate_X(X, reset=reset)
        X, y = validate_data(self, X, y, reset=False, dtype=np.float32)
        check_classification_targets(y)
        return X, y

    def _class_indices(self, y, classes: np.ndarray | None = None) -> np.ndarray:
        classes = self.classes_ if classes is None else classes
        unknown = ~np.isin(y, classes)
        if unknown.any():
            raise ValueError(f"y contains labels {np.unique(y[unknown]).tolist()} that are not among "
                             f"classes_={classes.tolist()}; pass every class to the first partial_fit "
                             "call (classes=...) or call fit")
        return np.searchsorted(classes, y)

    # ------------------------------------------------------------------------------------------------------------
    # One pass

    def _rules(self) -> list[LearningRule]:
        """The learning rule of each bank: ``learning_rule(n_labels)``, made once and shared, when given; else the
        Memory Network's, set up for each bank (its threshold)."""
        n_labels = len(self.classes_) if self.labelled_memories else 1
        if self.learning_rule is not None:
            return [self.learning_rule(n_labels)] * len(self.banks_)
        return [self._default_rule(n_labels, p) for p in range(len(self.banks_))]

    def _default_rule(self, n_labels: int, position: int) -> OnePassRule:
        """The Memory Network's one-pass rule as these parameters set it up for bank ``position``, for ``n_labels``
        labels."""
        raise NotImplementedError

    def _one_pass_rule(self) -> type[OnePassRule]:
        """The class of that rule for this model's engine: with ``search_backend="torch"`` its passes run on the
        torch device (:mod:`memorynet.engine.device`)."""
        return DeviceOnePassRule if self.search_backend == "torch" else OnePassRule

    def _metric(self) -> tuple[str, float]:
        """(distance, p) of the banks' searches."""
        return self.distance, self.p

    def _new_searcher(self, bank: NeuronBank) -> Searcher:
        """A searcher of this model's engine and distance, attached to ``bank``."""
        factory = self.search_backend if callable(self.search_backend) else \
            functools.partial(make_searcher, self.search_backend)
        return factory(*self._metric()).attach(bank)

    def _searchers(self) -> list[Searcher]:
        """One searcher per bank, made on first use and kept up to date by the banks; a bank put in ``banks_``
        in place of another gets a searcher of its own, and a ``search_backend`` changed by ``set_params`` new ones."""
        cache = getattr(self, "_searcher_cache", None) or []
        if getattr(self, "_searcher_backend", self.search_backend) != self.search_backend:
            cache = []
        if len(cache) != len(self.banks_) or any(s.bank is not b for s, b in zip(cache, self.banks_)):
            kept = {id(s.bank): s for s in cache}
            cache = [kept[id(b)] if id(b) in kept else self._new_searcher(b) for b in self.banks_]
            self._searcher_cache, self._searcher_backend = cache, self.search_backend
        return cache

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_searcher_cache", None)  # engine state (FAISS indexes, device tensors) is rebuilt on demand
        return state

    def _check_budget(self, classes: np.ndarray) -> None:
        """Refuse a budget that cannot hold ``classes`` (raise ``ValueError``)."""

    def _begin(self, classes: np.ndarray) -> None:
        self._check_budget(classes)
        self.classes_ = classes
        self.n_samples_seen_ = 0
        self.banks_ = self._new_banks()
        self._searcher_cache = None

    def _learn(self, X: np.ndarray, classes: np.ndarray, order: np.ndarray | None = None) -> None:
        try:
            self._learn_rows(X, classes, order)
        except NoRoomForClass as exc:
            label = self.classes_[exc.class_index].item()
            raise ValueError(f"the memory is full ({exc.capacity} neurons) and label {label!r} has no neuron yet; "
                             "raise max_neurons, or use new_label_policy='reserve' with every class declared up "
                             "front") from None
        self.n_samples_seen_ += len(X)

    @unchanged_on_error
    def fit(self, X, y):
        """Learn from (X, y) in exactly one pass, starting from an empty memory. Returns ``self``."""
        self._validate_params()
        X, y = self._validate_Xy(X, y, reset=True)
        self._begin(np.unique(y))
        order = check_random_state(self.random_state).permutation(len(X)) if self.shuffle else None
        self._learn(X, self._class_indices(y), order)
        for searcher in self._searcher_cache or ():  # the pass is over: its search index too
            searcher.release_training_index()
        return self

    @unchanged_on_error
    def partial_fit(self, X, y, classes=None):
        """Continue the single pass on a new chunk of the stream, in the order given. Returns ``self``.

        ``classes`` (every label the stream will carry) may be given on the first call (scikit-learn's
        convention): it is how the class budget and ``new_label_policy="reserve"`` know every share from the
        start. A later chunk with labels never declared adds them (:meth:`add_classes`): classes may arrive
        unannounced, and under the default ``class_budget="fair"`` they take their share of the memory.
        """
        first = not hasattr(self, "classes_")
        if first:
            self._validate_params()
        X, y = self._validate_Xy(X, y, reset=first)
        if first:
            declared = np.unique(y if classes is None else classes)
            indices = self._class_indices(y, declared)  # checked before any state is made
            self._begin(declared)
        else:
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={np.unique(classes).tolist()} differs from the classes of the first "
                                 f"partial_fit call {self.classes_.tolist()}")
            new = np.setdiff1d(y, self.classes_) if classes is None else ()
            if len(new):
                self.add_classes(new)
            indices = self._class_indices(y)
        self._learn(X, indices)
        return self

    def _new_labels(self, labels) -> np.ndarray:
        """``labels`` as new class labels of a fitted model, checked: unknown, and of the kind of ``classes_``."""
        check_is_fitted(self)
        labels = np.unique(np.asarray(labels))
        if labels.size == 0 or np.isin(labels, self.classes_).any():
            raise ValueError(f"add_classes needs labels the model does not know yet; got {labels.tolist()}, known "
                             f"classes_={self.classes_.tolist()}")
        if labels.dtype.kind != self.classes_.dtype.kind and {labels.dtype.kind, self.classes_.dtype.kind} - set("iu"):
            raise ValueError(f"new labels {labels.tolist()} are not of the kind of classes_ "
                             f"({self.classes_.dtype}); give labels of the same type")
        return labels

    def _check_mergeable(self, other) -> None:
        """Refuse (``ValueError``) a model that cannot be merged into this one."""
        check_is_fitted(self)
        check_is_fitted(other)
        if type(self) is not type(other) or self.get_params() != other.get_params():
            raise ValueError("only models of the same class and parameters can be merged")
        if not np.array_equal(self.classes_, other.classes_) or self.image_shape_ != other.image_shape_:
            raise ValueError("only models fitted on the same classes and image shape can be merged")

    def merge(self, other, ancestor=None):
        """A new fitted model: what ``other`` learnt joined into a copy of this one, bank by bank, by the learning
        rule itself: each of ``other``'s neurons enters as its counter's worth of identical inputs (growth while
        there is room, otherwise a counter-weighted running mean into its nearest neuron of the label), so merging
        models of one image each is exactly the paper's rule.

        ``ancestor``: the model both started from (a stream's shared start, :attr:`sequential_prefix`); the neurons
        it had are joined exactly (:func:`~memorynet.engine.kernels.three_way_mean`) and only what grew since is
        learnt by the rule. Both models must be of one class and parameters, on the same classes and images."""
        self._check_mergeable(other)
        if ancestor is not None:
            self._check_mergeable(ancestor)
        merged = copy.deepcopy(self)
        for p, (bank, searcher, theirs, rule) in enumerate(zip(merged.banks_, merged._searchers(), other.banks_,
                                                               merged._rules())):
            shared = 0 if ancestor is None else len(ancestor.banks_[p])
            if shared:
                base = ancestor.banks_[p]
                if min(len(bank), len(theirs)) < shared or not (
                        np.array_equal(bank.classes[:shared], base.classes)
                        and np.array_equal(theirs.classes[:shared], base.classes)):
                    raise ValueError("the models did not both grow from the ancestor's neurons")
                rows = np.arange(shared)
                memories, counters = kernels.three_way_mean(
                    (bank.memories[:shared], bank.counters[:shared]),
                    (theirs.memories[:shared], theirs.counters[:shared]), (base.memories, base.counters))
                bank.update_rows(rows, memories, counters)
            rule.learn(bank, searcher, theirs.memories[shared:], theirs.classes[shared:], merged.batch_size,
                       weights=theirs.counters[shared:])
        merged.n_samples_seen_ += other.n_samples_seen_ - (0 if ancestor is None else ancestor.n_samples_seen_)
        merged._merge_state(other, ancestor)
        return merged

    def _merge_state(self, other, ancestor) -> None:
        """Join the learnt state beyond the banks (a readout) of ``other`` into this model (after :meth:`merge`)."""

    @property
    def sequential_prefix(self) -> int:
        """Images at the start of a stream that one learner must see, in order, before the rest of the stream can
        be split into shards learnt apart and merged (``merge``); 0 for models whose shards start empty."""
        return 0 if self.sequential_prefix_attribute is None else int(getattr(self, self.sequential_prefix_attribute))

    # ------------------------------------------------------------------------------------------------------------
    # Learned state

    @property
    def n_neurons_(self) -> int:
        """Neurons in use, over every bank."""
        check_is_fitted(self)
        return sum(len(bank) for bank in self.banks_)

    def _bank_layout(self) -> tuple[list[tuple[int, int]], tuple[int, int, int]]:
        """Top-left corner of the image region each bank sees, and that region's shape (C, h, w)."""
        return [(0, 0)], self.image_shape_

    def _bank_rows(self, images: np.ndarray, position: int) -> np.ndarray:
        """What bank ``position`` sees of validated ``images`` (n, C, H, W), as rows (n, width)."""
        return images.reshape(len(images), -1)

    def _images(self, X) -> np.ndarray:
        """Validated input as images (n, C, H, W) of the fitted shape."""
        check_is_fitted(self)
        rows = self._validate_X(X, reset=False)
        return rows.reshape(len(rows), *self.image_shape_)

    def _neuron_labels(self, bank: NeuronBank) -> np.ndarray | None:
        """The class label of every neuron of ``bank``, or ``None`` for unlabelled memories."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------------------------
    # Deploy

    def to_onnx(self, path=None, *, class_names: list[str] | None = None):
        """This fitted estimator as an ONNX model (``onnx.ModelProto``), written to ``path`` when given; its input
        is what the estimator takes, as images (N, C, H, W). See :func:`memorynet.export_onnx` (which also takes a
        preset's pipeline, preprocessing included) and the guide page "Deploy"."""
        from .onnx_export import export_onnx
        return export_onnx(self, path, class_names=class_names)

    def _onnx_scores(self, g, images: str) -> tuple[str, str]:
        """(scores as ``predict_proba`` gives them, class index) of ``images`` (N, C, H, W) in ONNX graph ``g``
        (a :class:`memorynet.models.onnx_graph.GraphBuilder`)."""
        raise NotImplementedError(f"{type(self).__name__} has no ONNX form: implement _onnx_scores, or export "
                                  "one of memorynet's estimators")

    def _onnx_evidence(self, g, images: str) -> str:
        """This model's per-class evidence (float64, larger is better: :meth:`_class_evidence` oriented) of
        ``images`` in ONNX graph ``g``; what a :class:`~memorynet.models.side_by_side.SideBySideClassifier` adds."""
        raise NotImplementedError(f"{type(self).__name__} has no ONNX form of its class evidence; a side-by-side "
                                  "model with it cannot be exported")

    def _class_evidence(self, X) -> tuple[np.ndarray, str, bool]:
        """(n, n_classes) per-class evidence of this kind of model, its name, and whether larger is better."""
        raise NotImplementedError

    def _class_weights(self, position: int) -> np.ndarray:
        """(n_classes, neurons of bank ``position``) non-negative: how much each neuron stands for each class."""
        raise NotImplementedError

    def _patch_space(self, rows: np.ndarray, position: int) -> np.ndarray:
        """Rows of bank ``position`` (n, width) mapped back to the image region it sees (the inverse of any fixed
        transform the bank learns in; none by default)."""
        return rows

    def class_images(self) -> np.ndarray:
        """(n_classes, C, H, W): what each class looks like to the model. At every position, the bank's memories
        averaged with the weight each holds for the class (labelled memories: the counters of the class's
        neurons; a readout: the class's mean feature), mapped back to image space, and averaged where positions
        overlap; in the units of the (preprocessed) input, NaN where a class has nothing yet."""
        check_is_fitted(self)
        corners, (channels, h, w) = self._bank_layout()
        total = np.zeros((len(self.classes_), *self.image_shape_))
        cover = np.zeros(self.image_shape_[1:])
        for position, (r, c) in enumerate(corners):
            weights = self._class_weights(position)
            memories = self._patch_space(self.banks_[position].memories.astype(np.float64), position)
            with np.errstate(invalid="ignore", divide="ignore"):
                patches = (weights @ memories) / weights.sum(axis=1, keepdims=True)
            total[:, :, r:r + h, c:c + w] += patches.reshape(-1, channels, h, w)
            cover[r:r + h, c:c + w] += 1
        return total / np.maximum(cover, 1)

    def class_sizes(self) -> tuple[np.ndarray, str]:
        """(n_classes,) how much the model holds of each class, and the unit: neurons over every bank for
        labelled memories, images the readout learnt for a feature stage and readout."""
        raise NotImplementedError

    def explain(self, X, k: int = 5, position: int | None = None) -> dict:
        """Why the model predicts what it does, for each image of ``X``: ``prediction`` (n,), ``proba``
        (n, n_classes), ``evidence`` (n, n_classes; the model's own per-class measure, named by
        ``evidence_name``, better when larger if ``larger_is_better``), and the ``k`` nearest neurons of bank
        ``position`` (``nearest``: (distances, rows), each (n, k), rows of ``memory_view(position)``)."""
        evidence, name, larger = self._class_evidence(X)
        position = self._position(position)
        return {"prediction": self.predict(X), "proba": self.predict_proba(X), "evidence": evidence,
                "evidence_name": name, "larger_is_better": larger, "position": position,
                "nearest": self.nearest_neurons(X, k, position)}

    def _map_positions(self, work, progress: bool = False) -> list:
        """``work(position)`` for every bank, in order (subclasses with many banks may spread them over threads)."""
        return [work(p) for p in tqdm(range(len(self.banks_)), desc="positions", disable=not progress,
                                      leave=False)]

    def nearest_neurons(self, X, k: int = 1, position: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, rows)``, each (n, k): the ``k`` nearest neurons of bank ``position`` (default: the middle
        bank, as in :meth:`memory_view`) to what that bank sees of each image; rows index ``memory_view()``."""
        images = self._images(X)
        position = self._position(position)
        k = min(k, len(self.banks_[position]))
        return self._searchers()[position].nearest(self._bank_rows(images, position), k)

    def _position(self, position: int | None) -> int:
        """A bank index, checked (``None``: the middle bank)."""
        n = len(self.banks_)
        position = n // 2 if position is None else position
        if not 0 <= position < n:
            raise ValueError(f"position {position} out of range: this model has {n} banks")
        return position

    def memory_view(self, position: int | None = None) -> dict:
        """One bank as images: ``memories`` (n, C, h, w), ``labels`` (n,) (``None`` for unlabelled memories),
        ``counters`` (n,), the ``corner`` (row, column) of the image region it sees and its ``position`` (default:
        the middle bank)."""
        check_is_fitted(self)
        corners, shape = self._bank_layout()
        position = self._position(position)
        bank = self.banks_[position]
        return {"memories": bank.memories.reshape(-1, *shape), "labels": self._neuron_labels(bank),
                "counters": bank.counters, "corner": corners[position], "position": position}

    # ------------------------------------------------------------------------------------------------------------
    # Persistence (save and load: persistence.SavesToModelFile; format and checks: memorynet.models.persistence)

    def _export_state(self) -> tuple[dict, list[NeuronBank], dict[str, np.ndarray]]:
        """What persistence stores besides the parameters: JSON state, the banks and any other learnt arrays."""
        return ({"image_shape": list(self.image_shape_), "n_samples_seen": int(self.n_samples_seen_)}, self.banks_,
                {})

    def _import_state(self, state: dict, classes: np.ndarray, banks: list[NeuronBank],
                      arrays: dict[str, np.ndarray]) -> None:
        """Install learned state read from a verified model file (raises ``ValueError`` if it does not fit)."""
        if arrays:
            raise ValueError(f"arrays {sorted(arrays)} that a {type(self).__name__} does not store")
        if min(len(bank) for bank in banks) < 1 and not self._empty_banks_allowed:
            raise ValueError("a bank without neurons (a fitted model has at least one per bank)")
        self.classes_ = classes
        self.image_shape_ = tuple(state["image_shape"])
        self._check_layout(self.image_shape_)
        self.n_features_in_ = int(np.prod(self.image_shape_))
        self.n_samples_seen_ = int(state["n_samples_seen"])
        expected = self._new_banks()
        if len(banks) != len(expected) or any(b.n_features != e.n_features for b, e in zip(banks, expected)):
            raise ValueError(f"{len(banks)} banks do not fit a {type(self).__name__} of these parameters and "
                             f"image shape {self.image_shape_} ({len(expected)} banks of width "
                             f"{expected[0].n_features})")
        self.banks_ = banks
        self._searcher_cache = None
