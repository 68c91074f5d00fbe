"""rows_by_key: each key's row positions, by runs when the rows are grouped, else by hashing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from meshinsights_hvac.algorithms.keyed_rows import _key_runs, rows_by_key


def _by_groupby(first: pd.Series, second: pd.Series) -> dict[tuple[str, str], np.ndarray]:
    keys = [first.astype(str), second.astype(str)]
    return dict(pd.Series(0, index=first.index).groupby(keys, sort=False).indices)


def _same(got: dict[tuple[str, str], np.ndarray], expected: dict[tuple[str, str], np.ndarray]
          ) -> None:
    assert got.keys() == expected.keys()
    for key, rows in expected.items():
        np.testing.assert_array_equal(got[key], rows)


def test_grouped_rows_are_found_as_runs() -> None:
    first = pd.Series(["1", "1", "1", "2", "2", "1"], dtype="str")
    second = pd.Series(["a", "a", "b", "b", "b", "c"], dtype="str")
    runs = _key_runs(first, second)
    assert runs is not None
    _same(runs, {("1", "a"): np.array([0, 1]), ("2", "b"): np.array([3, 4]),
                 ("1", "b"): np.array([2]), ("1", "c"): np.array([5])})
    _same(rows_by_key(first, second), _by_groupby(first, second))


def test_a_key_in_two_runs_falls_back_to_hashing() -> None:
    first = pd.Series(["1", "2", "1"], dtype="str")
    second = pd.Series(["a", "a", "a"], dtype="str")
    assert _key_runs(first, second) is None
    _same(rows_by_key(first, second), {("1", "a"): np.array([0, 2]), ("2", "a"): np.array([1])})


@pytest.mark.parametrize("order", ["grouped", "shuffled"])
def test_the_same_rows_as_groupby_whatever_the_order(order: str) -> None:
    rng = np.random.default_rng(4)
    first = pd.Series(np.repeat(["11", "12", "13"], [50, 70, 30]), dtype="str")
    second = pd.Series(np.repeat(["7", "8", "7"], [50, 70, 30]), dtype="str")
    if order == "shuffled":
        at = rng.permutation(len(first))
        first, second = first.iloc[at].reset_index(drop=True), second.iloc[at].reset_index(drop=True)
    _same(rows_by_key(first, second), _by_groupby(first, second))


def test_numbers_are_keys_as_text_and_missing_values_belong_to_no_key() -> None:
    first = pd.Series([1, 1, None, None, 3], dtype="float64")
    second = pd.Series(["a", "a", "c", "c", None], dtype="str")
    _same(rows_by_key(first, second), {("1.0", "a"): np.array([0, 1])})
    grouped = _key_runs(pd.Series(["1", "1", None], dtype="str"), pd.Series(["a", "a", "b"]))
    assert grouped is not None
    _same(grouped, {("1", "a"): np.array([0, 1])})
    integers = rows_by_key(pd.Series([5, 5, 6]), pd.Series([7, 7, 8]))
    _same(integers, {("5", "7"): np.array([0, 1]), ("6", "8"): np.array([2])})


def test_empty() -> None:
    assert rows_by_key(pd.Series([], dtype="str"), pd.Series([], dtype="str")) == {}
