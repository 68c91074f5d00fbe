"""A tiny solution: a synthetic source, a summing processor, and a marker processor."""

import numpy as np
import pandas as pd

from meshinsights import DataSource, Processor, Solution


class RampSource(DataSource):
    def __init__(self, rows: int) -> None:
        super().__init__("values", "memory")
        self.rows = rows

    def build_query(self) -> str:
        return "values"

    def fetch(self) -> pd.DataFrame:
        return pd.DataFrame({"value": np.arange(self.rows, dtype="float64")})


class SumProcessor(Processor):
    def process(self, data_object):
        data_object.set_artifact("sample/sum", float(data_object.get_dataset("values")["value"].sum()))
        return data_object


class MarkerProcessor(Processor):
    def process(self, data_object):
        data_object.set_artifact("sample/marker", data_object.device_id)
        return data_object


def sources(device):
    return {"values": RampSource(int(device.parameters.get("rows", 10)))}


def normalizers(device):
    return {}


def processors(device):
    return [SumProcessor()]


SOLUTION = Solution(
    name="sample-sum",
    data_source_factory=sources,
    normalizer_factory=normalizers,
    processor_factory=processors,
    description="sums a ramp of `rows` values per device",
)
