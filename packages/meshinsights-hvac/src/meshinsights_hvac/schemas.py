"""pandera schemas of the normalized dataset and of every DataFrame artifact.

Every schema is a :class:`~meshinsights_hvac.algorithms.precheck.FastSchema`:
a ``pandera.DataFrameSchema`` whose vectorized pre-check of its own rules
keeps validation of every artifact within the chain's time budget, while a
failure still goes through pandera and is reported check by check.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from meshinsights_hvac.algorithms.precheck import FastSchema, utc_datetime
from meshinsights_hvac.params import STAGES

__all__ = [
    "CLASS_DTYPE", "CYCLE_MEDIANS_OUTLIER_SCHEMA", "CYCLE_MEDIANS_SCHEMA", "CYCLE_SUMMARY_SCHEMA",
    "FILTERED_DATA_SCHEMA", "HVAC_POWER_SCHEMA", "REJECT_DTYPE", "REJECT_REASONS", "STAGE_DTYPE",
    "SUFFICIENCY_SCHEMA", "THRESHOLDS_SCHEMA", "VARIANCE_CLASSES", "VARIANCE_CYCLE_MEDIANS_SCHEMA",
    "VARIANCE_FILTERED_SCHEMA", "FastSchema", "utc_datetime",
]

STAGE_DTYPE = pd.CategoricalDtype(list(STAGES))
REJECT_REASONS: tuple[str, ...] = ("too_short", "too_few_samples", "no_power")
REJECT_DTYPE = pd.CategoricalDtype(list(REJECT_REASONS))
VARIANCE_CLASSES: tuple[str, ...] = ("stable", "moderate", "unstable")
CLASS_DTYPE = pd.CategoricalDtype(list(VARIANCE_CLASSES))


def _ts(nullable: bool = False) -> pa.Column:
    return pa.Column(checks=[utc_datetime()], nullable=nullable)


def _kw(nullable: bool = False) -> pa.Column:
    return pa.Column(float, pa.Check.ge(0), nullable=nullable)


def _stage(nullable: bool = False) -> pa.Column:
    return pa.Column(STAGE_DTYPE, nullable=nullable)


def _str(nullable: bool = False) -> pa.Column:
    return pa.Column(str, nullable=nullable)


def _count() -> pa.Column:
    return pa.Column("int64", pa.Check.ge(0))


def _class() -> pa.Column:
    return pa.Column(CLASS_DTYPE)


HVAC_POWER_SCHEMA = FastSchema(
    {
        "timestamp": pa.Column(checks=[utc_datetime()], unique=True),
        "power_kw": _kw(),
        "stage": _stage(),
        "cycle_id": _str(nullable=True),
    },
    name="hvac_power",
)

CYCLE_SUMMARY_SCHEMA = FastSchema(
    {
        "cycle_id": pa.Column(str, unique=True),
        "stage": _stage(),
        "staged_from": _stage(nullable=True),
        "call_id": _count(),
        "start": _ts(),
        "end": _ts(),
        "duration_min": _kw(),
        "n_rows": _count(),
        "n_samples": _count(),
        "median_kw": _kw(nullable=True),
        "mad_kw": _kw(nullable=True),
        "off_before_min": pa.Column(float, nullable=True),
        "valid": pa.Column(bool),
        "reject_reason": pa.Column(REJECT_DTYPE, nullable=True),
        "short_cycle": pa.Column(bool),
    },
    name="cycles/summary",
)

FILTERED_DATA_SCHEMA = FastSchema(
    {
        "timestamp": _ts(),
        "power_kw": _kw(),
        "stage": _stage(),
        "cycle_id": _str(),
    },
    name="cycles/filtered_data",
)

SUFFICIENCY_SCHEMA = FastSchema(
    {
        "stage": pa.Column(STAGE_DTYPE, unique=True),
        "n_cycles": _count(),
        "n_valid_cycles": _count(),
        "n_filtered_samples": _count(),
        "coverage": pa.Column(float, pa.Check.ge(0), nullable=True),
        "sufficient": pa.Column(bool),
    },
    name="cycles/sufficiency",
)

VARIANCE_FILTERED_SCHEMA = FastSchema(
    {
        "stage": pa.Column(STAGE_DTYPE, unique=True),
        "n_samples": _count(),
        "n_cycles": _count(),
        "median_kw": _kw(),
        "mad_kw": _kw(),
        "within_cycle_cv": _kw(),
        "variance_class": _class(),
    },
    name="variance/filtered_data",
)

CYCLE_MEDIANS_SCHEMA = FastSchema(
    {
        "cycle_id": pa.Column(str, unique=True),
        "stage": _stage(),
        "start": _ts(),
        "duration_min": _kw(),
        "median_kw": _kw(),
        "n_samples": _count(),
        "within_cycle_cv": _kw(),
    },
    name="cycles/medians",
)

CYCLE_MEDIANS_OUTLIER_SCHEMA = FastSchema(
    {
        **CYCLE_MEDIANS_SCHEMA.columns,
        "modified_z": pa.Column(float, nullable=True),
        "outlier": pa.Column(bool),
    },
    name="cycles/medians",
)

VARIANCE_CYCLE_MEDIANS_SCHEMA = FastSchema(
    {
        "stage": pa.Column(STAGE_DTYPE, unique=True),
        "n_cycles": _count(),
        "median_kw": _kw(),
        "mad_kw": _kw(),
        "robust_cv": _kw(),
        "n_outliers": _count(),
        "cycle_median_class": _class(),
    },
    name="variance/cycle_medians",
)

THRESHOLDS_SCHEMA = FastSchema(
    {
        "stage": pa.Column(STAGE_DTYPE, unique=True),
        "baseline_kw": _kw(),
        "mad_kw": _kw(),
        "band_kw": _kw(),
        "lower_kw": _kw(),
        "upper_kw": _kw(),
        "n_cycles_used": _count(),
    },
    name="baseline/thresholds_table",
)

# Pickled by name (see FastSchema.publish): they travel with every data object.
for _name in __all__:
    if isinstance(globals()[_name], FastSchema):
        globals()[_name].publish(__name__, _name)
del _name

