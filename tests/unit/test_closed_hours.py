"""The sorted union the long windows' percentiles are read from, against sorting it all."""

from __future__ import annotations

import random

import pytest

from inloop.server.services.closed_hours import _Union, percentiles


@pytest.mark.parametrize("seed", range(40))
def test_every_position_of_the_union_is_that_of_the_sorted_whole(seed: int) -> None:
    rng = random.Random(seed)
    long = sorted(
        rng.choice([1.0, 2.0, 3.0, rng.random() * 100]) for _ in range(rng.randrange(0, 60))
    )
    short = sorted(rng.choice([2.0, rng.random() * 100]) for _ in range(rng.randrange(0, 8)))
    union = _Union(long, short)
    assert len(union) == len(long) + len(short)
    assert [union[k] for k in range(len(union))] == sorted(long + short)


def test_outside_the_union_is_an_index_error() -> None:
    union = _Union([1.0], [2.0])
    for k in (-1, 2):
        with pytest.raises(IndexError):
            union[k]


def test_percentiles_interpolate_as_percentile_cont_and_are_none_for_nothing() -> None:
    values = [60.0 * m for m in range(1, 11)]
    assert percentiles(values, (0.5, 0.9, 0.99)) == pytest.approx([330.0, 546.0, 594.6])
    assert percentiles(_Union(values[:4], values[4:]), (0.5,)) == pytest.approx([330.0])
    assert percentiles([], (0.5, 0.9)) == [None, None]
