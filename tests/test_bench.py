"""CI smoke of the load benchmark: every scenario, tiny, against a real server. No timing is asserted:
the figures belong in docs/PERFORMANCE.md; this only keeps `python -m bench` from rotting."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

SMOKE = {
    "steady": ["--chats", "3", "--agents", "2", "--seconds", "2", "--every", "0.5"],
    "burst": ["--chats", "3", "--agents", "2", "--seconds", "2", "--every", "0.5"],
    "idle": ["--chats", "3", "--seconds", "2"],
    "growth": ["--chats", "2", "--agents", "2", "--seconds", "2", "--every", "0.5"],
}


@pytest.mark.parametrize("scenario", sorted(SMOKE))
def test_scenario_runs_and_loses_nothing(scenario, tmp_path):
    command = [sys.executable, "-m", "bench", scenario, *SMOKE[scenario], "--json"]
    command += ["--plot", str(tmp_path / "growth.png")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["lost"] == 0, result
    assert result["duplicates"] == 0, result
    assert result["sockets_held"] == result["sockets_expected"], result
    assert {"chats", "agents", "messages", "delivery_ms", "offer_ms", "errors"} <= set(result)
    assert {"server_rss_mb", "server_cpu_s"} <= set(result)
    for direction in ("chatter_to_agent", "agent_to_chatter"):
        assert set(result["delivery_ms"][direction]) >= {"p50", "p95", "p99", "max"}
    if scenario != "idle":
        assert result["messages"] > 0, result
        assert result["offers_missing"] == 0, result
    if scenario == "growth":
        assert len(result["steps"]) == 2
        assert (tmp_path / "growth.png").stat().st_size > 0


def test_the_baselines_run_beside_parley():
    command = [sys.executable, "-m", "bench", "steady", *SMOKE["steady"], "--baseline", "--json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for name, baseline in result["baselines"].items():
        assert baseline["lost"] == 0 and baseline["messages"] > 0, (name, baseline)


def test_a_run_on_postgresql_and_redis_with_two_workers(postgres_server, redis_server):
    deployment = [
        "--database-url",
        postgres_server.url(),
        "--bus-url",
        redis_server.new_url(),
        "--workers",
        "2",
    ]
    command = [sys.executable, "-m", "bench", "steady", *SMOKE["steady"], *deployment, "--json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["deployment"] == {"database": "postgresql", "bus": "redis", "workers": 2}
    assert result["lost"] == 0 and result["duplicates"] == 0 and result["messages"] > 0, result
    assert result["errors"] == 0, result
    assert "2 gunicorn gevent worker(s), postgresql, bus redis" in done.stdout
    assert "parley_bench" not in postgres_server.psql("SELECT string_agg(datname, ' ') FROM pg_database")
