"""The Memory Network classifier (Ruiz & Gupta 2024): one neuron bank, the one-pass rule, nearest-neuron voting."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..engine import voting
from ..engine.bank import NeuronBank
from .base import PARAMETER_CONSTRAINTS
from .labelled import LabelledMemoryEstimator

__all__ = ["MemoryNetworkClassifier"]


class MemoryNetworkClassifier(LabelledMemoryEstimator):
    """A bank of neuron memories learnt in one pass, without backpropagation or convolutions.

    Training (one pass, batch by batch, every batch against the memory as it stood at the batch's start):
    each input is compared with the neurons of its own label; while the memory has room it becomes a new
    neuron (always without ``threshold``; with one, only when its nearest same-label neuron is farther than
    ``threshold`` or its label has none); otherwise the nearest same-label neuron moves to the running mean
    ``r <- (c r + x) / (c + 1)``, ``c <- c + 1`` (k hits in one batch: ``(c r + sum x) / (c + k)``).
    Prediction: the label of the nearest neuron, or a vote of the ``n_neighbors`` nearest, optionally per
    colour channel (``channel_voting``).

    Parameters
    ----------
    max_neurons : int, default=10000
        Memory budget: the most neurons the bank may hold.
    threshold : float, str or None, default=None
        Growth threshold: a distance in units of ``distance``; or ``"quantile:q"`` (q in [0, 1]), learnt in the
        pass for data of any scale: each bank's threshold is the q-quantile of the nearest same-label distances
        among the first 2000 images of the pass (``threshold_``, saved with the model); ``"auto"`` is
        ``"quantile:0.1"`` (the quantile the threshold experiment's validation favours); ``None`` grows on every
        input until the memory is full.
    distance : {"l2", "l1", "cosine", "lp"}, default="l2"
        Distance function: squared Euclidean, Manhattan, ``1 - cosine similarity``, or Minkowski with ``p``.
    p : float, default=2.0
        Exponent of the ``"lp"`` distance (ignored by the others), from 1 to 1000: beyond, ``|x|^p`` leaves
        float64's range and the distance degenerates.
    n_neighbors : int, default=1
        Neurons that vote on each prediction (per voter under channel voting).
    weights : {"uniform", "distance"}, default="uniform"
        Vote weight of each neighbour: 1, or the inverse of its distance.
    channel_voting : bool, default=False
        Each colour channel finds its own nearest neurons using only that channel and votes; the class with
        the most votes wins; ties go to the class with the nearest neuron (then the lowest class index).
    batch_size : int, default=1024
        Inputs learnt in parallel against the same memory state; 1 is strictly sequential online learning.
    image_shape : tuple (C, H, W) or None, default=None
        Shape of one image; ``None`` infers it from 3-D/4-D input, else treats rows as (1, 1, D).
    new_label_policy : {"reserve", "error"}, default="reserve"
        What keeps a full memory from meeting a label without a neuron. ``"reserve"`` keeps one free slot
        per declared class until that class has a neuron (growth of other classes stops short of them);
        ``"error"`` reserves nothing and raises ``ValueError`` when it happens.
    class_budget : {"fair", "shared", "balanced"}, default="fair"
        How the classes share the memory. Each class's share is ``max_neurons // n_classes`` (the remainder to the
        first classes). ``"fair"``: a class may grow past its share only into room that no class below its share
        still needs, and an input of a class below its share that finds the memory full takes a slot freed by
        merging two neurons (counter-weighted mean; the pair Ward's criterion, distance weighted by counters, finds
        cheapest) of the class most above its share, so classes
        that arrive late or unannounced get their share and the order of the classes barely matters;
        ``"shared"`` (the paper's rule): first come, first served, so the first classes can fill the memory;
        ``"balanced"``: no class ever holds more than its share.
    consolidate : bool, default=False
        With a ``threshold``: when there is no room for a novel input (farther than the threshold from its
        label's neurons), merge two neurons of its label (counter-weighted mean) and store the input in the freed
        slot, instead of averaging it into its nearest neuron. Merges are chosen per batch from the memory after
        the batch's updates, as the disjoint pairs cheapest by Ward's criterion.
    shuffle : bool, default=True
        Whether ``fit`` visits the training samples in a random order (``partial_fit`` keeps the stream's order).
    random_state : int, RandomState or None, default=None
        Seed of the shuffle.
    search_backend : {"auto", "numpy", "int8", "faiss", "torch"} or callable, default="auto"
        Engine of the nearest-neuron searches (:mod:`memorynet.engine.searchers`): NumPy/BLAS; ``"int8"``, NumPy with
        prediction's squared-L2 search through int8 products and a certified shortlist re-ranked in float32
        (PyTorch and an x86 CPU with VNNI or AMX); ``"auto"``, ``"int8"`` for banks of 8192 neurons or more where
        the machine has it, else ``"numpy"``; FAISS exact search (``memorynet[faiss]``); or PyTorch (on the GPU
        when present). All give the same neighbours up to ties within float32 rounding. A callable
        ``factory(distance, p) -> Searcher`` plugs in another engine (not saved in model files; see the guide's
        "Extending memorynet").
    learning_rule : callable or None, default=None
        ``None``: the Memory Network's one-pass rule, set up by the parameters above. A callable
        ``factory(n_labels) -> LearningRule`` (:class:`memorynet.engine.rule.LearningRule`) plugs in another rule
        for the banks (not saved in model files; see the guide's "Extending memorynet").
    verbose : bool, default=False
        Show a progress bar over batches.

    Attributes
    ----------
    memories_ : ndarray (n_neurons_, C, H, W) float32
        The latent representation of each neuron.
    labels_ : ndarray (n_neurons_,)
        The class label of each neuron.
    counters_ : ndarray (n_neurons_,) int64
        How many training inputs each neuron has absorbed.
    n_neurons_ : int
        Neurons in use.
    banks_ : list of one NeuronBank
        The storage behind ``memories_``, ``labels_`` and ``counters_`` (:mod:`memorynet.engine.bank`).
    classes_ : ndarray (n_classes,)
        Known class labels, sorted.
    image_shape_ : tuple (C, H, W)
        Shape of one input image.
    n_features_in_ : int
        C * H * W.
    n_samples_seen_ : int
        Training inputs absorbed so far (the stream position).
    threshold_ : ndarray (n_banks,) or None
        Each bank's growth threshold learnt from ``threshold="quantile:q"`` or ``"auto"``; ``None`` otherwise, and
        until some class has had two images.
    """

    _parameter_constraints: dict = {key: PARAMETER_CONSTRAINTS[key] for key in (
        "max_neurons", "threshold", "distance", "p", "n_neighbors", "weights", "channel_voting", "batch_size",
        "image_shape", "new_label_policy", "class_budget", "consolidate", "shuffle", "random_state", "search_backend",
        "learning_rule", "verbose")}

    def __init__(self, max_neurons: int = 10000, *, threshold: float | str | None = None, distance: str = "l2",
                 p: float = 2.0, n_neighbors: int = 1, weights: str = "uniform", channel_voting: bool = False,
                 batch_size: int = 1024, image_shape: tuple[int, int, int] | None = None,
                 new_label_policy: str = "reserve", class_budget: str = "fair", consolidate: bool = False,
                 shuffle: bool = True, random_state=None,
                 search_backend: str = "auto", learning_rule=None, verbose: bool = False):
        self.max_neurons = max_neurons
        self.threshold = threshold
        self.distance = distance
        self.p = p
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.channel_voting = channel_voting
        self.batch_size = batch_size
        self.image_shape = image_shape
        self.new_label_policy = new_label_policy
        self.class_budget = class_budget
        self.consolidate = consolidate
        self.shuffle = shuffle
        self.random_state = random_state
        self.search_backend = search_backend
        self.learning_rule = learning_rule
        self.verbose = verbose

    # ------------------------------------------------------------------------------------------------------------
    # Learned state (views of the bank)

    @property
    def memories_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.banks_[0].memories.reshape(-1, *self.image_shape_)

    @property
    def labels_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[self.banks_[0].classes]

    @property
    def counters_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.banks_[0].counters

    # ------------------------------------------------------------------------------------------------------------
    # Training

    def _new_banks(self) -> list[NeuronBank]:
        return [NeuronBank(int(np.prod(self.image_shape_)), self.max_neurons)]

    def _learn_rows(self, X, classes, order):
        self._rules()[0].learn(self.banks_[0], self._searchers()[0], X, classes, self.batch_size, order,
                               progress=bool(self.verbose))

    # ------------------------------------------------------------------------------------------------------------
    # Inference

    def _voters(self) -> list[slice | None]:
        """Feature slices that each search for nearest neurons: one per channel, or the whole image (None)."""
        channels, pixels = self.image_shape_[0], int(np.prod(self.image_shape_[1:]))
        if self.channel_voting and channels > 1:
            return [slice(c * pixels, (c + 1) * pixels) for c in range(channels)]
        return [None]

    def _neighbors(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Class indices and distances of each voter's nearest neurons, each (n, V, k)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        searcher = self._searchers()[0]
        found = [searcher.nearest(X if s is None else X[:, s], self.n_neighbors, s) for s in self._voters()]
        distances = np.stack([d for d, _ in found], axis=1)
        indices = np.stack([i for _, i in found], axis=1)
        return self.banks_[0].classes[indices], distances

    def _scores(self, neighbor_classes: np.ndarray, distances: np.ndarray) -> np.ndarray:
        return voting.tally_votes(neighbor_classes, voting.vote_weights(distances, self.weights),
                                  len(self.classes_))

    def predict(self, X) -> np.ndarray:
        """Label of the nearest neuron (or the vote winner), (n,)."""
        neighbor_classes, distances = self._neighbors(X)
        scores = self._scores(neighbor_classes, distances)
        return self.classes_[voting.decide(scores, neighbor_classes, distances)]

    def _onnx_scores(self, g, images: str) -> tuple[str, str]:
        rows, bank = g.flatten(images), self.banks_[0]
        neighbors = []
        for features in self._voters():
            x, memories = (rows, bank.memories) if features is None else \
                (g.columns(rows, features), bank.memories[:, features])
            neighbors.append(g.nearest(g.distances(x, memories, self.distance), min(self.n_neighbors, len(bank))))
        votes, nearest = g.tally(neighbors, [bank.classes] * len(neighbors), len(self.classes_), self.weights)
        return g.share(votes), g.decide(votes, nearest)

    def predict_proba(self, X) -> np.ndarray:
        """Share of the (weighted) votes each class receives, (n, n_classes), rows summing to 1.

        Votes come from the ``n_neighbors`` nearest neurons of every voter (the image, or each channel under
        ``channel_voting``). With the defaults (one neighbour, one voter) this is one-hot: the Memory Network
        gives no calibrated probabilities, only how its nearest neurons voted.
        """
        scores = self._scores(*self._neighbors(X))
        return scores / scores.sum(axis=1, keepdims=True)
