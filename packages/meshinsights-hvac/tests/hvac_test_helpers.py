"""Helpers shared by the HVAC tests (loaded by conftest as ``hvac_test_helpers``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from meshinsights_hvac.data_object import HVACPipelineDataObject
from meshinsights_hvac.normalizers import PowerDataNormalizer
from meshinsights_hvac.params import HVACParams

T0 = pd.Timestamp("2024-07-01 00:00", tz="UTC")


def minutes_frame(spec: list[tuple[list[int], str, list[float] | float]]) -> pd.DataFrame:
    """Raw rows from (minutes, thermostat code, power kW) groups; power in W like SiteSage."""
    minutes, stages, power = [], [], []
    for mins, stage, kw in spec:
        values = kw if isinstance(kw, list) else [kw] * len(mins)
        assert len(values) == len(mins)
        minutes += mins
        stages += [stage] * len(mins)
        power += values
    return pd.DataFrame({
        "timestamp": T0 + pd.to_timedelta(np.array(minutes), unit="min"),
        "power_w": np.array(power) * 1000.0,
        "stage": stages,
    })


def r(a: int, b: int) -> list[int]:
    """Minutes a..b inclusive."""
    return list(range(a, b + 1))


#: The worked example: staging inside a call, trimming, zero MAD, a too-short restart,
#: a call drawing no power, a short off time, and a data gap splitting cool1.
HAND_SPEC: list[tuple[list[int], str, list[float] | float]] = [
    (r(0, 1), "OFF", 0.0),
    (r(2, 11), "Y1", [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.1, 3.2, 0.5]),   # A
    (r(12, 19), "Y2", [3.5, 3.8, 4.0, 4.1, 4.2, 4.3, 4.4, 0.5]),            # B (staged)
    (r(20, 22), "OFF", 0.0),
    (r(23, 25), "Y1", 3.0),                                                  # C too short
    (r(26, 31), "OFF", 0.0),
    # minutes 32..39 missing (a gap)
    (r(40, 47), "Y1", 0.05),                                                 # D no power
    (r(48, 49), "OFF", 0.0),
    (r(50, 55), "Y1", 3.0),                                                  # E
    # minutes 56..59 missing (a gap)
    (r(60, 66), "Y1", 3.0),                                                  # F
    (r(67, 69), "OFF", 0.0),
]


def normalize(raw: pd.DataFrame, params: HVACParams | None = None, **kw: Any) -> pd.DataFrame:
    return PowerDataNormalizer(params, **kw).normalize(raw, {})


def data_object_for(data: pd.DataFrame, device_id: str = "dev-1") -> HVACPipelineDataObject:
    dobj = HVACPipelineDataObject("test", {"device_id": device_id})
    dobj.load_normalized_data({"hvac_power": data}, freeze=True)
    return dobj
