"""The engine: what every model is made of. A :class:`NeuronBank` stores neurons (memories, labels, counters); a
:class:`Searcher` finds the nearest ones (NumPy, int8, FAISS, PyTorch engines); :class:`OnePassRule` decides what a
batch changes; ``kernels`` and ``voting`` are the pure numeric functions beneath. Nothing here knows scikit-learn.
"""

from .bank import NeuronBank
from .rule import OnePassRule
from .searchers import SEARCH_BACKENDS, Searcher, make_searcher

__all__ = ["NeuronBank", "OnePassRule", "Searcher", "make_searcher", "SEARCH_BACKENDS"]
