"""The chain's fast paths give what the plain pandas/numpy/pandera calls give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshinsights_hvac.algorithms.frames import build_frame, column_values, frame_arrays
from meshinsights_hvac.algorithms.issues import _in_busy_hour
from meshinsights_hvac.algorithms.robust import group_median, group_median_mad, nan_to_zero
from meshinsights_hvac.algorithms.text import factorize_text, take_text, text_is_unique
from meshinsights_hvac.algorithms.timeutil import from_ns, sampling_interval_ns, utc_array
from meshinsights_hvac.schemas import STAGE_DTYPE, FastSchema, utc_datetime

FLOATS = st.one_of(st.floats(-5, 5), st.just(float("nan")), st.just(float("inf")),
                   st.just(-0.0), st.just(0.0))


def _columns(n: int) -> dict[str, object]:
    rng = np.random.default_rng(n)
    return {
        "f": rng.normal(size=n),
        "i": rng.integers(0, 9, n),
        "b": rng.random(n) < 0.5,
        "stage": pd.Categorical.from_codes(rng.integers(-1, 7, n).astype(np.int8),
                                           dtype=STAGE_DTYPE),
        "start": utc_array(rng.integers(0, 10**6, n) * 60_000_000_000, "us"),
        "name": pd.array([None if x < 0.2 else f"c{x:.3f}" for x in rng.random(n)], dtype="str"),
    }


@pytest.mark.parametrize("n", [0, 1, 7, 300])
def test_build_frame_is_the_frame_pandas_builds(n: int) -> None:
    columns = _columns(n)
    built = build_frame(columns)
    pd.testing.assert_frame_equal(built, pd.DataFrame(dict(columns)), check_exact=True)
    mgr = built._mgr  # type: ignore[attr-defined]
    arrays = frame_arrays(built)
    assert arrays is not None
    for i, name in enumerate(columns):
        assert pd.Series(arrays[i]).equals(pd.Series(mgr.iget_values(i)))
        assert column_values(built, name).dtype == built[name].dtype


def test_built_frames_keep_copy_on_write_and_fresh_column_reads() -> None:
    built = build_frame(_columns(5))
    copy = built.copy(deep=False)
    copy.loc[0, "f"] = 99.0
    assert built.loc[0, "f"] != 99.0
    built["f"] = np.arange(5.0)
    assert column_values(built, "f").tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    built.loc[1, "i"] = -1
    assert column_values(built, "i")[1] == -1


def test_frames_built_on_many_threads_at_once_are_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Normalizers (I/O threads) and processors (the consumer) build frames together: the
    shared column placements must not get a position twice, which would leave a later
    frame with a gap ("Gaps in blk ref_locs" on its first column read)."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    from meshinsights_hvac.algorithms import frames

    monkeypatch.setattr(frames, "_PLACEMENTS", [])  # as in a fresh process
    monkeypatch.setattr(frames._Internals, "loaded", False)
    monkeypatch.setattr(frames._Internals, "numpy", None)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # a thread switch between almost any two bytecodes
    try:
        with ThreadPoolExecutor(8) as pool:
            built = list(pool.map(lambda width: build_frame(  # pandas' internals looked up
                {f"c{i}": np.arange(3) + i for i in range(width)}), [1, 2, 3, 7, 40] * 8))
            monkeypatch.setattr(frames, "_PLACEMENTS", [])
            list(pool.map(frames._placements, range(1, 3000)))  # growing one column at a time
    finally:
        sys.setswitchinterval(switch)
    placed = [p.as_slice for p in frames._PLACEMENTS]
    assert placed == [slice(i, i + 1, 1) for i in range(len(placed))]
    for frame in built:
        assert [frame[c].iloc[0] for c in frame.columns] == list(range(frame.shape[1]))


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "cc", "", "d-1"])),
                       max_size=30),
       cut=st.integers(0, 5))
def test_text_helpers_agree_with_pandas(values: list[str | None], cut: int) -> None:
    array = pd.array(values, dtype="str")[cut:]
    codes, uniques = factorize_text(array)
    expected_codes, expected_uniques = pd.factorize(pd.Series(array), use_na_sentinel=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques) and uniques.dtype == array.dtype
    positions = np.arange(0, len(array), 2)
    assert take_text(array, positions).equals(array.take(positions))
    duplicated = pd.Series(array).duplicated(keep=False).any()
    unique = text_is_unique(array)
    assert unique is not None and (not unique or not duplicated)  # never looser than pandas
    if pd.Series(array).isna().sum() <= 1:
        assert unique == (not duplicated)


def _reference_median(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.full(n_groups, np.nan)
    for group in range(n_groups):  # a loop over a handful of groups, in the test only
        mine = values[(groups == group) & ~np.isnan(values)]
        if len(mine):
            out[group] = np.median(mine)
    return out


@settings(max_examples=300, deadline=None)
@given(values=st.lists(FLOATS, max_size=60), n_groups=st.integers(1, 6), seed=st.integers(0, 99))
def test_group_medians_agree_with_numpy(values: list[float], n_groups: int, seed: int) -> None:
    x = np.array(values, dtype=np.float64)
    groups = np.random.default_rng(seed).integers(0, n_groups, len(x))
    with np.errstate(invalid="ignore"):
        median, mad = group_median_mad(x, groups, n_groups)
        expected = _reference_median(x, groups, n_groups)
        deviations = np.abs(x - expected[groups]) if len(x) else x
        expected_mad = _reference_median(deviations, groups, n_groups)
    np.testing.assert_array_equal(median, expected)
    np.testing.assert_array_equal(group_median(x, groups, n_groups), expected)
    np.testing.assert_array_equal(mad, expected_mad)


def test_nan_to_zero_is_nan_to_num() -> None:
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.0])
    out = nan_to_zero(x)
    np.testing.assert_array_equal(out, np.nan_to_num(x))
    assert np.signbit(out).tolist() == np.signbit(np.nan_to_num(x)).tolist()


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_utc_array_is_from_ns(unit: str) -> None:
    rng = np.random.default_rng(4)
    for scale in (1, 10**3, 10**6, 10**9):
        ns = rng.integers(-10**17, 10**17, 50) // scale * scale
        ns[3] = np.iinfo(np.int64).min  # NaT
        made, expected = utc_array(ns, unit), from_ns(ns, unit).array
        assert made.dtype == expected.dtype
        np.testing.assert_array_equal(made.asi8, expected.asi8)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.integers(-10**12, 10**12), min_size=1, max_size=12))
def test_sampling_interval_is_the_numpy_median(steps: list[int]) -> None:
    ts = np.concatenate(([0], np.cumsum(steps))).astype(np.int64)
    expected = int(np.median(np.diff(ts)))
    assert sampling_interval_ns(ts) == (expected if expected > 0 else None)


@pytest.mark.parametrize("n", [4_000, 8_192, 8_193, 20_000])
def test_group_medians_of_many_values_agree_with_numpy(n: int) -> None:
    """Both sides of the switch from one numpy sort to pandas' groupby median."""
    rng = np.random.default_rng(n)
    x = rng.normal(5.0, 1.0, n).round(2)  # ties, as in metered power
    x[rng.random(n) < 0.05] = np.nan
    n_groups = 40
    groups = rng.integers(0, n_groups - 1, n)  # the last group stays empty
    groups[:30] = 7
    x[:30] = np.nan  # and group 7 has NaN values beside its numbers
    with np.errstate(invalid="ignore"):
        median, mad = group_median_mad(x, groups, n_groups)
        expected = _reference_median(x, groups, n_groups)
        expected_mad = _reference_median(np.abs(x - expected[groups]), groups, n_groups)
    np.testing.assert_array_equal(median, expected)
    np.testing.assert_array_equal(group_median(x, groups, n_groups), expected)
    np.testing.assert_array_equal(mad, expected_mad)


@pytest.mark.parametrize("n", [9_999, 10_000, 131_041])
@pytest.mark.parametrize("mix", ["regular", "gappy", "balanced", "irregular"])
def test_sampling_interval_of_long_series_is_the_numpy_median(n: int, mix: str) -> None:
    """Long series take the counting path (a sampled guess proved by counts) or, when the
    guess is not the median (two steps in equal numbers, irregular steps), the sort."""
    rng = np.random.default_rng(n)
    minute = 60 * 10**9
    steps = np.full(n - 1, minute, dtype=np.int64)
    if mix == "gappy":
        steps[rng.random(n - 1) < 0.02] = 7 * minute
    elif mix == "balanced":
        steps[: (n - 1) // 2] = 2 * minute  # the middle falls between the two values
    elif mix == "irregular":
        steps = rng.integers(1, 10**12, n - 1)
    ts = np.concatenate(([0], np.cumsum(steps))).astype(np.int64)
    assert sampling_interval_ns(ts) == int(np.median(np.diff(ts)))


@settings(max_examples=200, deadline=None)
@given(hours=st.lists(st.integers(0, 6), min_size=1, max_size=40), limit=st.integers(1, 4),
       ordered=st.booleans())
def test_busy_hours_agree_with_unique_counts(hours: list[int], limit: int, ordered: bool) -> None:
    hour = np.array(sorted(hours) if ordered else hours, dtype=np.int64)
    _, inverse, counts = np.unique(hour, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(_in_busy_hour(hour, limit), counts[inverse] > limit)


MIXED = FastSchema({
    "stage": pa.Column(STAGE_DTYPE, unique=True),
    "start": pa.Column(checks=[utc_datetime()]),
    "kw": pa.Column(float, [pa.Check.gt(0), pa.Check.lt(10)]),
    "n": pa.Column("int64", pa.Check.ge(1), nullable=True),
    "name": pa.Column(str, nullable=True, unique=True),
})


@settings(max_examples=200, deadline=None)
@given(codes=st.lists(st.integers(-1, 6), max_size=6),
       kw=st.lists(st.one_of(st.floats(-1, 11), st.just(float("nan"))), max_size=6),
       n=st.lists(st.integers(-1, 3), max_size=6),
       names=st.lists(st.one_of(st.none(), st.sampled_from(["x", "y", "z"])), max_size=6),
       nat=st.booleans(), naive=st.booleans())
def test_fast_schema_agrees_with_pandera_on_every_column_kind(
    codes: list[int], kw: list[float], n: list[int], names: list[str | None], nat: bool,
    naive: bool,
) -> None:
    size = min(len(codes), len(kw), len(n), len(names))
    start = pd.Series(pd.date_range("2024-07-01", periods=size, freq="min", tz="UTC"))
    if naive:
        start = start.dt.tz_localize(None)
    if nat and size:
        start.iloc[0] = pd.NaT
    frame = pd.DataFrame({
        "stage": pd.Categorical.from_codes(np.array(codes[:size], dtype=np.int8),
                                           dtype=STAGE_DTYPE),
        "start": start,
        "kw": np.array(kw[:size], dtype=np.float64),
        "n": np.array(n[:size], dtype=np.int64),
        "name": pd.array(names[:size], dtype="str"),
    })
    try:
        pa.DataFrameSchema(MIXED.columns).validate(frame, lazy=True)
        accepted = True
    except (pa.errors.SchemaErrors, pa.errors.SchemaError):
        accepted = False
    if MIXED.passes(frame):
        assert accepted
    if not accepted:
        with pytest.raises((pa.errors.SchemaErrors, pa.errors.SchemaError)):
            MIXED.validate(frame, lazy=True)


def test_fast_schema_passes_a_valid_frame_without_pandera() -> None:
    frame = pd.DataFrame({
        "stage": pd.Categorical.from_codes(np.array([2, 3], dtype=np.int8), dtype=STAGE_DTYPE),
        "start": pd.date_range("2024-07-01", periods=2, freq="min", tz="UTC"),
        "kw": [1.0, 9.5],
        "n": [1, 2],
        "name": pd.array(["x", None], dtype="str"),
    })
    assert MIXED.passes(frame)
    for column, bad in [("kw", [0.0, 1.0]), ("n", [0, 1]), ("name", ["x", "x"]),
                        ("start", pd.date_range("2024-07-01", periods=2, freq="min"))]:
        assert not MIXED.passes(frame.assign(**{column: bad})), column


def test_a_dtype_verdict_is_not_reused_for_another_schema_dtype_at_the_same_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The verdicts are remembered by the schema dtype's id: an entry left by a dtype
    that has since died (its id reused) must not answer for the new one."""
    from pandera.engines import pandas_engine

    from meshinsights_hvac.algorithms import precheck

    expected = pandas_engine.Engine.dtype("int64")
    actual = np.dtype("float64")
    stale = {(id(expected), actual): (object(), True)}  # a dead dtype's "yes"
    monkeypatch.setattr(precheck, "_DTYPE_VERDICTS", stale)
    assert precheck._dtype_ok(expected, actual) is False
    assert precheck._dtype_ok(expected, np.dtype("int64")) is True
