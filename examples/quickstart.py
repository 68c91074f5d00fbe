"""The architecture's "Configure and Run Pipeline" example on embedded demo data.

Runs with only meshinsights-core installed: the built-in ``memory`` connector
serves a small generated fleet, so no database is needed.

    python examples/quickstart.py
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from meshinsights import (
    DataNormalizer,
    DataSource,
    DeviceUnit,
    Pipeline,
    PipelineConfig,
    PipelineDataObject,
    Processor,
)


def demo_power_table(n_devices: int = 12, days: int = 3, seed: int = 7) -> pd.DataFrame:
    """One-minute power readings of a few devices, with one device switched off."""
    rng = np.random.default_rng(seed)
    minutes = days * 24 * 60
    timestamps = pd.date_range("2025-02-05", periods=minutes, freq="min", tz="UTC")
    frames = []
    for i in range(n_devices):
        on = (np.arange(minutes) // 17 + i) % 3 == 0  # a 17-minute duty cycle
        level = 0.0 if i == 5 else rng.uniform(2.0, 6.0)
        power = np.where(on, level * rng.normal(1.0, 0.01, minutes), 0.0)
        frames.append(pd.DataFrame({
            "control_id": f"29162{i:02d}", "timestamp": timestamps, "PowerKW": power,
        }))
    return pd.concat(frames, ignore_index=True)


TABLES = {"power": demo_power_table()}


class PowerSource(DataSource):
    def __init__(self, control_id: str, start: date, end: date) -> None:
        super().__init__("hvac_power", "memory", {"tables": TABLES})
        self.control_id, self.start, self.end = control_id, start, end

    def build_query(self) -> str:
        return "power"

    def build_parameters(self) -> dict[str, object]:
        return {
            "control_id": self.control_id,
            "timestamp__ge": pd.Timestamp(self.start, tz="UTC"),
            "timestamp__lt": pd.Timestamp(self.end, tz="UTC"),
        }


class PowerNormalizer(DataNormalizer):
    required_columns = ("timestamp", "PowerKW")

    def transform(self, data: pd.DataFrame, metadata: dict | None = None) -> pd.DataFrame:
        return data.rename(columns={"PowerKW": "power_kw"})[["timestamp", "power_kw"]]


class OnTimeProcessor(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        power = data_object.get_dataset("hvac_power")["power_kw"]
        on = power > 0.2
        data_object.set_artifact("power/on_fraction", float(on.mean()))
        data_object.set_artifact("power/median_on_kw", float(power[on].median()) if on.any() else None)
        return data_object


class NoPowerCheck(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        if data_object.get_artifact("power/median_on_kw") is None:
            data_object.set_artifact("issues", ["no_power"])
        else:
            data_object.set_artifact("issues", [])
        return data_object


def main() -> None:
    devices = [
        DeviceUnit(
            device_id=control_id,
            parameters={
                "location_id": "11688", "control_id": control_id,
                "start_date": date(2025, 2, 5), "end_date": date(2025, 2, 8),
            },
        )
        for control_id in sorted(TABLES["power"]["control_id"].unique())
    ]
    pipeline = Pipeline(
        data_source_factory=lambda d: {"hvac_power": PowerSource(
            d.parameters["control_id"], d.parameters["start_date"], d.parameters["end_date"]
        )},
        normalizer_factory=lambda d: {"hvac_power": PowerNormalizer()},
        processor_factory=lambda d: [OnTimeProcessor(), NoPowerCheck()],
        config=PipelineConfig(pipeline_name="quickstart", batch_size=4, io_max_workers=4),
    )
    results = pipeline.run_producer_consumer(devices)
    table = results.to_dataframe()
    objects = [results.device_results[d] for d in table["device_id"]]
    table["on_fraction"] = [o.get_artifact("power/on_fraction") for o in objects]
    table["issues"] = [";".join(o.get_artifact("issues")) for o in objects]
    columns = ["device_id", "status", "on_fraction", "issues", "io_seconds", "cpu_seconds"]
    print(table[columns].to_string(index=False))
    print(results.summary())


if __name__ == "__main__":
    main()
