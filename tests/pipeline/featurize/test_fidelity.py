"""The fidelity figures and the gate an int8 graph must pass: cosine per image against fp32,
mean >= 0.98 and 1st percentile >= 0.95, else one line saying by how much it misses."""
from __future__ import annotations

import numpy as np
import pytest

from bigfruits.errors import FidelityRefused
from bigfruits.pipeline.featurize.fidelity import (GATE_MEAN, GATE_P1, Fidelity, check_gate,
                                                   cosine_similarities, fidelity)

pytestmark = pytest.mark.pure


def test_cosine_is_per_image_and_ignores_scale() -> None:
    reference = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    candidate = np.array([[5.0, 0.0], [2.0, 0.0], [-3.0, -4.0]])
    np.testing.assert_allclose(cosine_similarities(reference, candidate), [1.0, 0.0, -1.0])


def test_a_zero_vector_agrees_only_with_a_zero_vector() -> None:
    reference = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    candidate = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(cosine_similarities(reference, candidate), [1.0, 0.0, 0.0])


def test_features_of_other_shapes_are_a_mistake_not_a_figure() -> None:
    with pytest.raises(ValueError):
        cosine_similarities(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError):
        fidelity(np.ones((0, 4)), np.ones((0, 4)))


def test_the_figures_are_the_mean_the_first_percentile_and_the_min() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(200, 16))
    candidate = reference + rng.normal(scale=0.2, size=reference.shape)
    similarity = cosine_similarities(reference, candidate)
    measured = fidelity(reference, candidate)
    assert measured.images == 200
    assert measured.mean == pytest.approx(similarity.mean())
    assert measured.p1 == pytest.approx(np.percentile(similarity, 1))
    assert measured.min == pytest.approx(similarity.min())
    assert measured.min <= measured.p1 <= measured.mean


@pytest.mark.parametrize("mean, p1, passes", [
    (GATE_MEAN, GATE_P1, True), (0.999, 0.99, True),
    (GATE_MEAN - 1e-6, 0.99, False), (0.999, GATE_P1 - 1e-6, False), (0.5, 0.2, False)])
def test_the_gate_needs_both_the_mean_and_the_first_percentile(mean, p1, passes) -> None:
    assert Fidelity(30, mean, p1, p1).passes() is passes


def test_a_graph_failing_the_gate_is_refused_in_one_line_that_says_why() -> None:
    failing = Fidelity(30, 0.9099, 0.7921, 0.7439)
    with pytest.raises(FidelityRefused) as refused:
        check_gate(failing, kept_fp32=0)
    line = str(refused.value)
    assert "\n" not in line
    assert "0.9099" in line and "0.7921" in line and str(GATE_MEAN) in line and str(GATE_P1) in line
    assert "--precision fp32" in line and "--calibration" in line
    check_gate(Fidelity(30, 0.99, 0.98, 0.97), kept_fp32=2)  # passes: nothing raised
