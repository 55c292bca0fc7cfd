"""``json_problem``: the quick walk and the one that names the problem agree."""

from __future__ import annotations

from typing import Any

import pytest

from inloop.domain.requests import json_problem


class Mapping(dict[str, Any]):
    pass


class Number(float):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": [1, 2.5, {"b": "x", "c": [True, None]}]}, None),
        ((1, (2, 3)), None),
        ({"max": 2**64 - 1, "min": -(2**63)}, None),
        ({"a": [1, {"b": float("nan")}]}, ("a.1.b", "holds nan: JSON numbers must be finite")),
        ([[1, [2, [float("inf")]]]], ("0.1.1.0", "holds inf: JSON numbers must be finite")),
        ({"big": 2**64}, ("big", "holds an integer too large to store: at most 64 bits")),
        (
            {"small": -(2**63) - 1},
            ("small", "holds an integer too large to store: at most 64 bits"),
        ),
        (Mapping(x=float("-inf")), ("x", "holds -inf: JSON numbers must be finite")),
        ({"n": Number("nan")}, ("n", "holds nan: JSON numbers must be finite")),
        ({"t": (1, float("nan"))}, ("t.1", "holds nan: JSON numbers must be finite")),
        (float("nan"), ("", "holds nan: JSON numbers must be finite")),
    ],
)
def test_json_problem_finds_and_names_what_json_cannot_hold(
    value: Any, expected: tuple[str, str] | None
) -> None:
    assert json_problem(value) == expected


def test_a_deep_value_is_walked_without_recursion() -> None:
    deep: Any = 1.5
    for _ in range(50_000):
        deep = [deep]
    assert json_problem(deep) is None
    deep = {"x": deep, "y": [float("nan")]}
    assert json_problem(deep) == ("y.0", "holds nan: JSON numbers must be finite")
