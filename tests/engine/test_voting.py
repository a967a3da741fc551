"""Vote weights, tallies and the tie rule against hand-worked examples."""

import numpy as np

from memorynet.engine import voting


def test_uniform_and_distance_weights():
    d = np.array([[[1.0, 2.0, 4.0]]])
    np.testing.assert_allclose(voting.vote_weights(d, "uniform"), 1.0)
    np.testing.assert_allclose(voting.vote_weights(d, "distance"), [[[1.0, 0.5, 0.25]]])


def test_distance_weights_with_an_exact_match():
    d = np.array([[[0.0, 2.0]], [[1.0, 2.0]]])
    np.testing.assert_allclose(voting.vote_weights(d, "distance"), [[[1.0, 0.0]], [[1.0, 0.5]]])


def test_tally_votes_sums_per_class():
    classes = np.array([[[0, 2, 2]], [[1, 1, 0]]])
    scores = voting.tally_votes(classes, np.ones((2, 1, 3)), 3)
    np.testing.assert_array_equal(scores, [[1, 0, 2], [1, 2, 0]])


def test_majority_wins_across_channels():
    classes = np.array([[[4], [7], [7]]])  # three channel voters
    distances = np.array([[[0.1], [5.0], [6.0]]])
    scores = voting.tally_votes(classes, np.ones((1, 3, 1)), 10)
    assert voting.decide(scores, classes, distances)[0] == 7


def test_tie_goes_to_the_class_with_the_nearest_neuron():
    classes = np.array([[[1], [3], [5]]])
    distances = np.array([[[2.0], [0.5], [1.0]]])
    scores = voting.tally_votes(classes, np.ones((1, 3, 1)), 6)
    assert voting.decide(scores, classes, distances)[0] == 3


def test_full_tie_goes_to_the_lowest_class():
    classes = np.array([[[4], [2]]])
    distances = np.array([[[1.0], [1.0]]])
    scores = voting.tally_votes(classes, np.ones((1, 2, 1)), 5)
    assert voting.decide(scores, classes, distances)[0] == 2
