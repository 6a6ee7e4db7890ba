"""The lift of a workflow's emails and its interval, against the published worked examples of the method."""

from __future__ import annotations

import pytest

from server.automation.lift import lift, wilson


def test_the_wilson_interval_of_newcombes_first_example() -> None:
    """Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 gives 0.2553 to 0.3662."""
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


# Newcombe (1998), Statistics in Medicine 17:873, table II, method 10 (the hybrid score interval).
@pytest.mark.parametrize(
    ("counts", "interval"),
    [
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ],
)
def test_the_interval_matches_newcombes_worked_examples(
    counts: tuple[int, int, int, int], interval: tuple[float, float]
) -> None:
    sent_conversions, sent_runs, held_conversions, held_runs = counts
    result = lift(sent_runs, sent_conversions, held_runs, held_conversions)
    assert result is not None
    assert result.value == pytest.approx(sent_conversions / sent_runs - held_conversions / held_runs)
    assert (round(result.low, 4), round(result.high, 4)) == interval


def test_no_lift_while_a_group_is_empty() -> None:
    assert lift(100, 10, 0, 0) is None and lift(0, 0, 10, 1) is None


def test_more_conversions_than_runs_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and the group's runs"):
        lift(10, 11, 10, 1)
