"""Percentiles used by every bench figure: known lists, edge cases."""

import pytest

from tom.bench.stats import Summary, percentile


def test_percentile_of_one_to_hundred_matches_linear_interpolation():
    xs = list(range(1, 101))
    assert percentile(xs, 50) == pytest.approx(50.5)
    assert percentile(xs, 95) == pytest.approx(95.05)
    assert percentile(xs, 0) == 1
    assert percentile(xs, 100) == 100


def test_percentile_ignores_input_order():
    assert percentile([300, 100, 200], 50) == 200
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)


def test_percentile_of_single_value_and_empty():
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_percentile_rejects_out_of_range_q():
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_summary_fields():
    s = Summary.of([100, 200, 300, 400, 1000])
    assert (s.count, s.p50, s.max) == (5, 300, 1000)
    assert s.p95 == pytest.approx(880.0)
    assert Summary.of([]).to_dict() == {"count": 0, "p50": None, "p95": None, "max": None}
