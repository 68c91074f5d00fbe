"""Stage codes: the integer form of the normalized ``stage`` column.

0 off, 1 fan, 2 cool1, 3 cool2, 4 heat1, 5 heat2, 6 aux (the category order
of :data:`~meshinsights_hvac.schemas.STAGE_DTYPE`); codes >= 2 form cycles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from meshinsights_hvac.params import STAGES
from meshinsights_hvac.schemas import STAGE_DTYPE

FIRST_CYCLE_CODE = 2
STAGE_NAMES = np.array(STAGES, dtype=object)
#: cool2 -> cool1, heat2 -> heat1: the stage whose baseline a second stage must exceed.
SECOND_STAGES: dict[str, str] = {"cool2": "cool1", "heat2": "heat1"}


_STAGE_DTYPES: dict[int, tuple[pd.CategoricalDtype, bool]] = {}


def _is_stage_dtype(dtype: pd.CategoricalDtype) -> bool:
    """Categories exactly STAGES in order (remembered per dtype object: the check is slow)."""
    known = _STAGE_DTYPES.get(id(dtype))
    if known is not None and known[0] is dtype:
        return known[1]
    verdict = tuple(dtype.categories.tolist()) == STAGES
    if len(_STAGE_DTYPES) < 1024:
        _STAGE_DTYPES[id(dtype)] = (dtype, verdict)
    return verdict


def stage_codes(values: Any) -> np.ndarray:
    """int8 codes of a normalized stage column (a Series or its array, category or text);
    unknown names are an error."""
    array: Any = values.array if isinstance(values, pd.Series) else values
    dtype = array.dtype
    if isinstance(dtype, pd.CategoricalDtype) and _is_stage_dtype(dtype):
        codes = np.asarray(array.codes, dtype=np.int8)
    else:
        codes = np.asarray(pd.Categorical(array, categories=list(STAGES)).codes, dtype=np.int8)
    if codes.size and codes.min() < 0:
        bad = pd.unique(pd.Series(array)[codes < 0].astype(object))[:5]
        raise ValueError(
            f"column 'stage' has values that are not normalized stages: "
            f"{', '.join(map(repr, bad))} (expected one of {', '.join(STAGES)})"
        )
    return codes


def categorical(codes: np.ndarray, validate: bool = True) -> pd.Categorical:
    """A stage Categorical from codes (-1 is missing); ``validate=False`` for codes that
    are stage codes by construction (skips pandas' range check of every code)."""
    return pd.Categorical.from_codes(
        codes.astype(np.int8, copy=False), dtype=STAGE_DTYPE, validate=validate
    )
