"""`python -m bench SCENARIO [--chats N] [--agents M] [--seconds S] [--json] [--baseline]`."""

import argparse
import asyncio
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time

from bench.servers import ROOT, Baseline, Parley

SCENARIOS = {
    # scenario: (chats, agents, seconds) by default
    "steady": (1000, 100, 30),
    "burst": (200, 100, 5),
    "idle": (2000, 0, 20),
    "growth": (2000, 100, 20),
}
GROWTH_STEPS = (0.05, 0.15, 0.5, 1.0)  # of --chats: 100, 300, 1,000, 2,000 by default
EVERY = 5.0  # seconds between two messages of one side of a chat


def parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Load benchmark of a real `parley serve`."
    )
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--chats", type=int, help="chats (chat pages); growth: the largest step")
    parser.add_argument("--agents", type=int, help="agents logged on and accepting offers")
    parser.add_argument("--seconds", type=float, help="how long the measured phase lasts")
    parser.add_argument(
        "--every",
        type=float,
        default=EVERY,
        help=f"seconds between two messages of one side of a chat ({EVERY:g})",
    )
    parser.add_argument("--database-url", default="", help="a PostgreSQL to make each run's database on")
    parser.add_argument("--bus-url", default="", help="PARLEY_BUS_URL of the server (redis://…)")
    parser.add_argument("--workers", type=int, default=1, help="parley serve --workers (1)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--baseline", action="store_true", help="run the same load on the baselines too")
    parser.add_argument("--plot", default=str(ROOT / "docs" / "perf-growth.png"), help="growth: PNG to write")
    parser.add_argument("--keep", action="store_true", help="keep the servers' data folders and logs")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="sample the server with py-spy during the measured phase (collapsed stacks)",
    )
    args = parser.parse_args(argv)
    chats, agents, seconds = SCENARIOS[args.scenario]
    args.chats = chats if args.chats is None else args.chats
    args.agents = agents if args.agents is None else args.agents
    args.seconds = seconds if args.seconds is None else args.seconds
    args.deployment = {"database_url": args.database_url, "bus_url": args.bus_url, "workers": args.workers}
    if args.scenario in ("steady", "burst", "growth") and args.agents < 1:
        parser.error(f"{args.scenario} needs at least one agent")
    return args


# --- one run against Parley ---------------------------------------------------------------------


def run_parley(scenario, chats, agents, seconds, keep=False, profile=None, deployment=None):
    from bench.stats import Recorder

    max_chats = max(3, 2 * math.ceil(chats / agents)) if agents else 3
    server = Parley(agents, max_chats, **(deployment or {})).start()
    rec = Recorder()
    try:
        info = asyncio.run(_drive_parley(server, rec, scenario, chats, agents, seconds, profile))
    finally:
        server.stop(keep=keep)
    result = {"server": "parley", "scenario": scenario, "chats": chats, "agents": agents, "seconds": seconds}
    result["deployment"] = {
        "database": "postgresql" if server.database_url else "sqlite",
        "bus": "redis" if server.bus_url else "in process",
        "workers": server.workers,
    }
    result.update(rec.summary())
    result.update(info)
    log_errors = server.log_errors()
    result["server_log_errors"] = len(log_errors)
    result["errors"] += len(log_errors)
    if log_errors:
        result["error_samples"] += log_errors[:5]
    return result


async def _drive_parley(server, rec, scenario, chats, agents, seconds, profile=None):
    from bench.load import ParleyRun

    run = ParleyRun(server.url, rec)
    info = {}
    spy = None
    try:
        t = time.monotonic()
        await run.start_agents(agents)
        info["agents_ready_s"] = round(time.monotonic() - t, 2)
        chatters = await run.open_chatters(chats)
        rss_before = server.rss_mb()
        if profile and scenario == "burst":  # the starts are what burst measures
            spy = start_profiler(server, profile)
        t, start_cpu, start_client = time.monotonic(), server.cpu_seconds(), time.process_time()
        await run.start_chats(chatters, within=1.0 if scenario == "burst" else None)
        info["chats_started_s"] = round(time.monotonic() - t, 2)
        if agents:
            accepted = await run.wait_accepted(chats, timeout=30 + chats * 0.05)
            info["accepted"] = accepted
            info["all_accepted_s"] = round(time.monotonic() - t, 2)
        # what starting (and accepting) the chats cost: burst's offers wait behind this work
        info["start_server_cpu_s"] = round(server.cpu_seconds() - start_cpu, 2)
        info["start_client_cpu_s"] = round(time.process_time() - start_client, 2)
        if spy is not None:  # burst: the starts alone
            spy = stop_profiler(spy)
        elif profile:
            spy = start_profiler(server, profile)
        cpu0, client0, t0 = server.cpu_seconds(), time.process_time(), time.monotonic()
        if scenario == "idle":
            await asyncio.sleep(seconds)
        else:
            await run.converse(seconds, EVERY)
        elapsed = time.monotonic() - t0
        if spy is not None:
            spy = stop_profiler(spy)
        cpu = server.cpu_seconds() - cpu0
        info["client_cpu_s"] = round(time.process_time() - client0, 2)
        info["server_rss_mb"] = round(server.rss_mb(), 1)
        info["server_cpu_s"] = round(cpu, 2)
        info["server_cpu_pct"] = round(100 * cpu / elapsed, 1)
        info["sockets_held"] = run.sockets_open()
        info["sockets_expected"] = chats + agents
        info["reconnects"] = run.reconnects
        info["rss_per_chat_kb"] = round((info["server_rss_mb"] - rss_before) * 1024 / max(1, chats), 1)
        await run.drain(120)
    finally:
        await run.close()
        if spy is not None:
            stop_profiler(spy)
    return info


def start_profiler(server, path):
    """py-spy samples the worker during the measured phase and writes collapsed stacks to `path`."""
    command = ["py-spy", "record", "-p", str(server.worker_pid), "-r", "250"]
    command += ["--format", "raw", "-o", path, "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(spy):
    """Stop py-spy, which then writes its file; returns None for the caller's handle."""
    spy.send_signal(signal.SIGINT)
    spy.wait()


# --- one run against a baseline -------------------------------------------------------------------


def run_baseline(kind, scenario, chats, agents, seconds):
    from bench.stats import Recorder

    server = Baseline(kind).start()
    rec = Recorder()
    try:
        info = asyncio.run(_drive_baseline(server, rec, kind, scenario, chats, agents, seconds))
    finally:
        server.stop()
    result = {"server": kind, "scenario": scenario, "chats": chats, "agents": agents, "seconds": seconds}
    result.update(rec.summary())
    result.update(info)
    return result


async def _drive_baseline(server, rec, kind, scenario, chats, agents, seconds):
    from bench.baseline_load import BaselineRun

    run = BaselineRun(kind, server.url, rec)
    info = {}
    try:
        rss_before = server.rss_mb()
        await run.start(chats, agents)
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        if scenario == "idle":
            await asyncio.sleep(seconds)
        else:
            await run.converse(seconds, EVERY)
        cpu = server.cpu_seconds() - cpu0
        info["server_rss_mb"] = round(server.rss_mb(), 1)
        info["server_cpu_s"] = round(cpu, 2)
        info["server_cpu_pct"] = round(100 * cpu / (time.monotonic() - t0), 1)
        info["sockets_held"] = run.sockets_open()
        info["sockets_expected"] = chats + agents
        info["rss_per_chat_kb"] = round((info["server_rss_mb"] - rss_before) * 1024 / max(1, chats), 1)
        await run.drain(120)
    finally:
        await run.close()
    return info


# --- scenarios ------------------------------------------------------------------------------------


def targets(result):
    """The issue's targets for this machine, judged on the result (None where they do not apply)."""
    s, d = result["scenario"], result["delivery_ms"]["all"]
    clean = result["lost"] == 0 and result["duplicates"] == 0
    out = {}
    if s == "steady":
        out["p50_le_10ms"] = d["p50"] is not None and d["p50"] <= 10
        out["p99_le_50ms"] = d["p99"] is not None and d["p99"] <= 50
        out["no_loss_no_duplicates"] = clean and result["messages"] > 0
    if s == "burst":
        o = result["offer_ms"]
        out["every_offer_within_1s"] = (
            result["offers_missing"] == 0 and o["max"] is not None and o["max"] <= 1000
        )
    if s == "idle":
        out["all_sockets_held"] = result["sockets_held"] == result["sockets_expected"]
        out["rss_le_400mb"] = result["server_rss_mb"] <= 400
    baselines = result.get("baselines", {})
    if "echo" in baselines and d["p50"] is not None and s != "idle":
        echo = baselines["echo"]["delivery_ms"]["all"]["p50"]
        out["p50_within_3x_echo"] = bool(echo) and d["p50"] <= 3 * echo
    if "socketio" in baselines and d["p50"] is not None and s != "idle":
        sio = baselines["socketio"]["delivery_ms"]["all"]
        out["p50_ahead_of_socketio"] = sio["p50"] is not None and d["p50"] < sio["p50"]
    return out


def ratios(result):
    out = {}
    mine = result["delivery_ms"]["all"]["p50"]
    for kind, base in result.get("baselines", {}).items():
        theirs = base["delivery_ms"]["all"]["p50"]
        if mine and theirs:
            out[f"p50_vs_{kind}"] = round(mine / theirs, 2)
        if base["server_rss_mb"]:
            out[f"rss_vs_{kind}"] = round(result["server_rss_mb"] / base["server_rss_mb"], 2)
        if base.get("server_cpu_s"):
            out[f"cpu_vs_{kind}"] = round(result["server_cpu_s"] / base["server_cpu_s"], 2)
    return out


def scenario_run(args):
    if args.scenario == "growth":
        return growth(args)
    result = run_parley(
        args.scenario, args.chats, args.agents, args.seconds, args.keep, args.profile, args.deployment
    )
    if args.baseline and args.scenario in ("steady", "idle"):
        result["baselines"] = {
            kind: run_baseline(kind, args.scenario, args.chats, args.agents, args.seconds)
            for kind in ("echo", "socketio")
        }
        result["ratios"] = ratios(result)
    result["targets"] = targets(result)
    return result


def growth(args):
    sizes = sorted({max(1, round(args.chats * f)) for f in GROWTH_STEPS})
    steps = []
    for n in sizes:
        agents = min(args.agents, n)
        step = run_parley("steady", n, agents, args.seconds, keep=args.keep, deployment=args.deployment)
        if args.baseline:
            step["baselines"] = {
                k: run_baseline(k, "steady", n, agents, args.seconds) for k in ("echo", "socketio")
            }
            step["ratios"] = ratios(step)
        steps.append(step)
        print(row(step, f"growth {n}"), file=sys.stderr, flush=True)
    result = dict(steps[-1], scenario="growth", steps=[_brief(s) for s in steps])
    result["plot"] = plot(steps, args.plot)
    result["targets"] = {}
    return result


def _brief(step):
    keep = ("chats", "agents", "messages", "lost", "duplicates", "delivery_ms", "offer_ms", "errors")
    brief = {k: step[k] for k in keep}
    brief.update({k: step[k] for k in ("server_rss_mb", "server_cpu_s", "server_cpu_pct", "rss_per_chat_kb")})
    if "baselines" in step:
        brief["baselines"] = {k: _brief(v) for k, v in step["baselines"].items()}
    return brief


def plot(steps, path):
    """Delivery latency, memory and CPU against the number of chats, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chats = [s["chats"] for s in steps]
    fig, (lat, mem, cpu) = plt.subplots(1, 3, figsize=(13, 3.8))
    for key, style in (("p50", "o-"), ("p99", "s--")):
        lat.plot(chats, [s["delivery_ms"]["all"][key] for s in steps], style, label=f"Parley {key}")
        if all("baselines" in s for s in steps):
            for kind in ("echo", "socketio"):
                lat.plot(
                    chats,
                    [s["baselines"][kind]["delivery_ms"]["all"][key] for s in steps],
                    style,
                    alpha=0.6,
                    label=f"{kind} {key}",
                )
    lat.set(title="Delivery latency", xlabel="chats", ylabel="ms", yscale="log")
    lat.legend(fontsize=7)
    mem.plot(chats, [s["server_rss_mb"] for s in steps], "o-", label="RSS (MB)")
    mem.plot(chats, [s["rss_per_chat_kb"] for s in steps], "s--", label="per chat (KB)")
    mem.set(title="Server memory", xlabel="chats")
    mem.legend(fontsize=7)
    cpu.plot(chats, [s["server_cpu_pct"] for s in steps], "o-")
    cpu.set(title="Server CPU (% of one core)", xlabel="chats", ylabel="%")
    for ax in (lat, mem, cpu):
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Parley steady load, one message per side of a chat every {EVERY:g} s", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --- output ---------------------------------------------------------------------------------------

HEADER = (
    f"{'run':<18} {'chats':>6} {'agents':>6} {'msgs':>6} {'lost':>5} {'dup':>4} "
    f"{'c->a p50/p99':>14} {'a->c p50/p99':>14} {'offer p50/max':>14} {'err':>4} {'RSS MB':>7} {'CPU s':>6}"
)


def _pair(p, a="p50", b="p99"):
    return "-" if p[a] is None else f"{p[a]:.1f}/{p[b]:.1f}"


def row(r, label):
    d = r["delivery_ms"]
    return (
        f"{label:<18} {r['chats']:>6} {r['agents']:>6} {r['messages']:>6} {r['lost']:>5} {r['duplicates']:>4} "
        f"{_pair(d['chatter_to_agent']):>14} {_pair(d['agent_to_chatter']):>14} "
        f"{_pair(r['offer_ms'], 'p50', 'max'):>14} {r['errors']:>4} {r['server_rss_mb']:>7.1f} {r['server_cpu_s']:>6.2f}"
    )


def table(result):
    lines = [HEADER]
    runs = result.get("steps") and [(s, f"growth {s['chats']}") for s in result["steps"]]
    for r, label in runs or [(result, result["scenario"])]:
        lines.append(row(r, label))
        for kind, base in r.get("baselines", {}).items():
            lines.append(row(base, f"  {kind}"))
    if result.get("scenario") == "burst" and "all_accepted_s" in result:
        lines.append(
            f"starts: all {result['chats']} started after {result['chats_started_s']} s and accepted after "
            f"{result['all_accepted_s']} s, costing the server {result['start_server_cpu_s']} s of CPU"
            f" (the client {result['start_client_cpu_s']} s)"
        )
    if result.get("ratios"):
        lines.append("ratios: " + ", ".join(f"{k} {v}" for k, v in result["ratios"].items()))
    if result.get("targets"):
        lines.append(
            "targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in result["targets"].items())
        )
    if result.get("error_samples"):
        lines.append("first errors: " + "; ".join(result["error_samples"][:5]))
    d = result.get("deployment") or {"database": "sqlite", "bus": "in process", "workers": 1}
    server = f"{d['workers']} gunicorn gevent worker(s), {d['database']}, bus {d['bus']}"
    lines.append(f"delivery ms, offer ms; server: {server} (CPU and RSS of all); machine: {machine()}")
    return "\n".join(lines)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = f", load average {os.getloadavg()[0]:.1f}"
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}{load}"


def main(argv=None):
    global EVERY
    args = parse(argv)
    EVERY = args.every
    started = time.monotonic()
    result = scenario_run(args)
    result["machine"] = machine()
    result["wall_s"] = round(time.monotonic() - started, 1)
    print(table(result), flush=True)
    if args.json:
        print(json.dumps(result), flush=True)
    return 0
