"""The main job as a user meets it: the demo, a killed and resumed run, and MySQL.

Everything runs through the real ``meshinsights`` command, the real file
connector over generated Parquet, and a real MariaDB server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pymysql
import pytest

from meshinsights_connector_mysql.testing import INSTALL_HINT, MariaDBServer, find_binaries
from meshinsights_hvac.demo import generate_fleet

SUMMARY_COLUMNS = [
    "device_id", "location_id", "status", "stage", "n_cycles", "n_valid_cycles",
    "n_short_cycles", "baseline_kw", "lower_kw", "upper_kw", "variance_class",
    "cycle_median_class", "issues", "n_errors", "n_warnings", "first_error",
]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshinsights.cli", *args], cwd=cwd, capture_output=True,
        text=True, timeout=600, env={**os.environ, **(env or {})}, check=False,
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo run of 24 devices shared by the tests below."""
    root = tmp_path_factory.mktemp("demo")
    result = cli("demo", "--devices", "24", "--out", "demo", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "demo"


def test_demo_writes_every_output(demo_dir: Path) -> None:
    results = demo_dir / "results"
    summary = pd.read_csv(results / "summary.csv", dtype={"device_id": str, "location_id": str})
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert summary["device_id"].nunique() == 24
    from_parquet = pd.read_parquet(results / "summary.parquet")
    assert list(from_parquet.columns) == SUMMARY_COLUMNS
    assert from_parquet["device_id"].astype(str).tolist() == summary["device_id"].tolist()
    assert from_parquet["issues"].fillna("").tolist() == summary["issues"].fillna("").tolist()
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["devices"]["total"] == 24
    assert sum(manifest["devices"]["by_status"].values()) == 24
    assert manifest["config"]["connection"]["plugin"] == "file"
    assert {p["plugin"] for p in manifest["plugins"]} >= {"file", "hvac", "memory"}
    assert "meshinsights-hvac" in manifest["packages"]
    assert 0.0 <= manifest["timing"]["overlap_fraction"] <= 1.0
    documents = [json.loads(line) for line in (results / "devices.jsonl").read_text().splitlines()]
    assert len(documents) == 24
    assert max(len(json.dumps(d)) for d in documents) < 16_000, "an AI document must stay compact"
    assert all("issues/per_stage" in d["artifacts"] for d in documents if d["status"] == "ok")
    assert (results / "report.html").stat().st_size > 10_000
    medians = pd.read_parquet(results / "artifacts" / "cycles__medians")
    assert medians["device_id"].nunique() >= 20


def test_demo_finds_the_injected_faults(demo_dir: Path) -> None:
    truth = pd.read_csv(demo_dir / "data" / "ground_truth.csv", dtype=str)
    summary = pd.read_csv(demo_dir / "results" / "summary.csv", dtype=str).fillna("")
    found = {
        (row.device_id, row.stage, code)
        for row in summary.itertuples() for code in row.issues.split(";") if code
    }
    expected = set(truth.itertuples(index=False, name=None))
    assert expected <= found, f"missed: {sorted(expected - found)}"


def test_a_second_run_into_the_same_folder_is_refused(demo_dir: Path) -> None:
    result = cli("run", "demo.toml", cwd=demo_dir)
    assert result.returncode == 2
    assert "already holds results" in result.stderr


def test_killed_run_resumes_to_the_identical_summary(demo_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(demo_dir / "data", work / "data")
    config = (demo_dir / "demo.toml").read_text().replace(
        'dir = "results"', 'dir = "killed"'
    ).replace("batch_size = 10", "batch_size = 2")
    (work / "demo.toml").write_text(config)
    records = work / "killed" / "ledger" / "devices"
    process = subprocess.Popen(
        [sys.executable, "-m", "meshinsights.cli", "run", "demo.toml"], cwd=work,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(records.glob("*.json"))) < 6:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = len(list(records.glob("*.json")))
    assert 6 <= done < 24, "the kill must land in the middle of the run"

    resumed = cli("run", "--resume", "demo.toml", cwd=work)
    assert resumed.returncode == 0, resumed.stderr
    assert f"processed {24 - done} devices" in resumed.stdout
    assert (work / "killed" / "summary.csv").read_text() == (
        demo_dir / "results" / "summary.csv"
    ).read_text()


MYSQL_PASSWORD = "e2e-Analyst-9c1d"


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    if find_binaries() is None:
        reason = f"MariaDB server binaries not found; {INSTALL_HINT}"
        if os.environ.get("MESHINSIGHTS_REQUIRE_MARIADB") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    server = MariaDBServer(tmp_path_factory.mktemp("mariadb"))
    server.start()
    try:
        server.create_user("hvac", MYSQL_PASSWORD, "telemetry")
        yield server
    finally:
        server.stop()


def test_hvac_over_mysql_gives_the_file_connector_results(
    mariadb: MariaDBServer, tmp_path: Path
) -> None:
    generate_fleet(n_devices=6, days=7, seed=5, out_dir=tmp_path / "data")
    power = pd.read_parquet(tmp_path / "data" / "power")
    mariadb.execute(
        "CREATE TABLE power (location_id VARCHAR(16), control_id VARCHAR(16),"
        " timestamp DATETIME(6), power_w DOUBLE, stage VARCHAR(8),"
        " KEY (location_id, control_id, timestamp))",
        database="telemetry",
    )
    rows = list(zip(
        power["location_id"], power["control_id"],
        power["timestamp"].dt.tz_convert(None).dt.to_pydatetime(),
        power["power_w"], power["stage"], strict=True,
    ))
    with pymysql.connect(host=mariadb.host, port=mariadb.port, user="hvac",
                         password=MYSQL_PASSWORD, database="telemetry") as connection:
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO power VALUES (%s, %s, %s, %s, %s)", rows)
        connection.commit()

    common = (
        '[pipeline]\nsolution = "hvac-power"\nbatch_size = 3\n'
        '[devices]\ncsv = "data/devices.csv"\n'
    )
    (tmp_path / "file.toml").write_text(
        common + '[connection]\nplugin = "file"\nroot = "data"\n'
        'tables = { power = "power/*.parquet" }\n[output]\ndir = "out-file"\n'
    )
    (tmp_path / "mysql.toml").write_text(
        common + f'[connection]\nplugin = "mysql"\nhost = "{mariadb.host}"\nport = {mariadb.port}\n'
        'user = "hvac"\npassword = "${E2E_MYSQL_PASSWORD}"\ndatabase = "telemetry"\n'
        '[output]\ndir = "out-mysql"\n'
    )
    env = {"E2E_MYSQL_PASSWORD": MYSQL_PASSWORD}
    assert cli("validate", "mysql.toml", cwd=tmp_path, env=env).returncode == 0
    by_file = cli("run", "file.toml", cwd=tmp_path)
    by_mysql = cli("--log-level", "DEBUG", "run", "mysql.toml", cwd=tmp_path, env=env)
    assert by_file.returncode == 0, by_file.stderr
    assert by_mysql.returncode == 0, by_mysql.stderr
    summary = (tmp_path / "out-mysql" / "summary.csv").read_text()
    assert summary == (tmp_path / "out-file" / "summary.csv").read_text()
    assert len(summary.splitlines()) > 6
    for text in (by_mysql.stdout, by_mysql.stderr, (tmp_path / "out-mysql" / "manifest.json").read_text(),
                 (tmp_path / "out-mysql" / "report.html").read_text(),
                 (tmp_path / "out-mysql" / "devices.jsonl").read_text()):
        assert MYSQL_PASSWORD not in text


def test_output_artifacts_chooses_the_parquet_tables_written(demo_dir: Path, tmp_path: Path) -> None:
    config = (demo_dir / "demo.toml").read_text().replace(
        'formats = ["csv", "parquet", "html"]',
        'formats = ["csv", "parquet", "html"]\nartifacts = ["cycles/summary", "cycles/sumary"]',
    )
    assert "artifacts = " in config
    shutil.copytree(demo_dir / "data", tmp_path / "data")
    (tmp_path / "few.toml").write_text(config)
    result = cli("run", "few.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "results"
    assert sorted(p.name for p in (out / "artifacts").iterdir()) == ["cycles__summary"]
    assert "[output] artifacts: no device had 'cycles/sumary'" in result.stderr
    assert "'cycles/filtered_data'" in result.stderr  # the keys it could have meant
    # The summary does not depend on what was written; the report draws what it has.
    assert (out / "summary.csv").read_text() == (demo_dir / "results" / "summary.csv").read_text()
    assert "<svg" in (out / "report.html").read_text()
    record = json.loads(next((out / "ledger" / "devices").glob("*.json")).read_text())
    assert set(record["artifact_files"]) <= {"cycles/summary"}
