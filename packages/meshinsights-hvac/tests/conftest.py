"""Fixtures of the HVAC tests: an isolated plugin host, hand-made frames, a small fleet."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import meshinsights_hvac.plugin as hvac_plugin
from meshinsights.plugins import PluginHost
from meshinsights.testing import isolated_host
from meshinsights_hvac.data_object import HVACPipelineDataObject
from meshinsights_hvac.demo import Fleet, generate_fleet_frames

# Test modules import the shared helpers by this unique name (import mode is importlib).
_spec = importlib.util.spec_from_file_location(
    "hvac_test_helpers", Path(__file__).with_name("hvac_test_helpers.py")
)
assert _spec is not None and _spec.loader is not None
helpers = importlib.util.module_from_spec(_spec)
sys.modules["hvac_test_helpers"] = helpers
_spec.loader.exec_module(helpers)


@pytest.fixture
def hvac_host() -> Iterator[PluginHost]:
    """Core's built-ins and the HVAC plugin only, never whatever is installed."""
    with isolated_host(hvac_plugin) as host:
        yield host


@pytest.fixture
def hand_raw() -> pd.DataFrame:
    return helpers.minutes_frame(helpers.HAND_SPEC)


@pytest.fixture
def make_hand_object(hand_raw: pd.DataFrame) -> Callable[[], HVACPipelineDataObject]:
    normalized = helpers.normalize(hand_raw)
    return lambda: helpers.data_object_for(normalized)


@pytest.fixture(scope="session")
def month_fleet() -> Fleet:
    """Four devices over 30 days."""
    return generate_fleet_frames(n_devices=4, days=30, seed=11)
