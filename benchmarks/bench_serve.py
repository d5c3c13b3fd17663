"""Throughput and latency of `mlpilot serve`: a real server process, driven over HTTP by a real client.

Run from the repository root:

    .venv/bin/python benchmarks/bench_serve.py [--run RUN] [--seconds 10] [--workers 1] [--quick]

Without `--run` it first makes a run the way a user would (`python -m agent.cli run examples/titanic.csv
--goal "predict who survived" --budget 30 --json --quiet` in a temporary runs folder). Then it starts
`python -m agent.cli serve RUN --port 0 --quiet` as a subprocess (its own session, so Ctrl-C reaches only
the benchmark, which then stops it), waits for its `serving ... at URL` line and for `GET /health`, and
drives `POST /predict` for `--seconds` per cell: 1, 8 and 32 concurrent connections, each with single-row
requests and with 1,000-row requests (rows of `--rows-file` without the target, as JSON records with
null for missing; the 1,000 rows are drawn with replacement). The load comes from `--client-procs`
separate processes (not the one that orchestrates), one thread and one keep-alive
`http.client.HTTPConnection` per connection; each connection sends one untimed warm-up request first.
At the end the server gets SIGTERM and must exit with 0.

How to read it: requests/s and rows/s count 200 answers only, over the cell's window (from the common
start to the last answer); p50 / p99 are the latencies of those answers, from sending the request to
reading the whole answer. Everything else (other statuses, connection errors, timeouts) is in `errors`,
by kind in the JSON. `server CPU` and `client CPU` are the cores each side used on average during the
cell (from /proc; 1.00 = one core busy all the time): the client runs on the same machine as the server,
so on a 2-core machine a busy client takes CPU from the server, and a client process near 1.00 is capped
by its own GIL. With one worker the server handles the HTTP layer on one event loop and predicts in a
thread pool, all under one GIL, so expect it to stay near one core; `--workers 2` uses both. `reconnects`
counts connections that had to be opened again (keep-alive lost). The table is printed and saved with
the machine's details in `benchmarks/results/bench-serve-<stamp>.json` and `.md`.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
URL = re.compile(r"serving \S+ at (http://\S+)")
CONNECTIONS = (1, 8, 32)
ROWS_PER_REQUEST = (1, 1000)
PACKAGES = ("mlpilot", "fastapi", "uvicorn", "starlette", "h11", "httptools", "uvloop", "pandas")
REQUEST_TIMEOUT = 120.0


# ---------------------------------------------------------------- load generator (runs in client processes)

def _thread_load(host: str, port: int, headers: dict[str, str], bodies: list[bytes], rows: int, offset: int,
                 warmed: threading.Barrier, go: threading.Event, window: list[float], out: dict) -> None:
    """One connection: a warm-up request, then requests back to back until the window closes."""
    conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
    latencies: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    samples: list[str] = []
    reconnects = 0
    last_done = 0.0
    try:
        conn.request("POST", "/predict", bodies[offset % len(bodies)], headers)
        answer = conn.getresponse()
        data = answer.read()
        if answer.status != 200:
            errors[f"warm-up HTTP {answer.status}"] += 1
            samples.append(data[:300].decode("utf-8", "replace"))
        elif len(json.loads(data)["predictions"]) != rows:
            errors["warm-up: wrong number of predictions"] += 1
    except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
        errors[f"warm-up {type(exc).__name__}"] += 1
        conn.close()
    try:
        warmed.wait()
    except threading.BrokenBarrierError:
        pass
    go.wait()
    start, end = window
    while start > time.monotonic():
        time.sleep(min(0.001, max(0.0, start - time.monotonic())))
    i = offset + 1
    while time.monotonic() < end:
        body = bodies[i % len(bodies)]
        i += 1
        if conn.sock is None:
            reconnects += 1
        began = time.perf_counter()
        try:
            conn.request("POST", "/predict", body, headers)
            answer = conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            errors[type(exc).__name__] += 1
            if len(samples) < 3:
                samples.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            time.sleep(0.01)  # a refused or reset connection must not spin
            continue
        took = time.perf_counter() - began
        last_done = time.monotonic()
        if answer.status == 200:
            latencies.append(took)
        else:
            errors[f"HTTP {answer.status}"] += 1
            if len(samples) < 3:
                samples.append(f"HTTP {answer.status}: {data[:300].decode('utf-8', 'replace')}")
    conn.close()
    out.update(latencies=latencies, errors=errors, samples=samples, reconnects=reconnects, last_done=last_done)


def _client_process(pipe: Any, host: str, port: int, headers: dict[str, str], bodies: list[bytes], rows: int,
                    connections: int, first_offset: int) -> None:
    """A load process: ``connections`` threads; says ready after the warm-up, starts at the time it is sent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the orchestrator, which ends this process
    warmed = threading.Barrier(connections + 1, timeout=REQUEST_TIMEOUT + 30)
    go = threading.Event()
    window = [0.0, 0.0]
    outs: list[dict] = [{} for _ in range(connections)]
    stride = max(1, len(bodies) // max(1, connections))
    threads = [threading.Thread(target=_thread_load, daemon=True,
                                args=(host, port, headers, bodies, rows, first_offset + k * stride, warmed, go,
                                      window, outs[k]))
               for k in range(connections)]
    for thread in threads:
        thread.start()
    try:
        warmed.wait()
        pipe.send("ready")
        window[:] = pipe.recv()
    except (threading.BrokenBarrierError, EOFError, OSError):  # the orchestrator stopped (Ctrl-C) or a thread died
        return
    cpu_before = os.times()
    go.set()
    for thread in threads:
        thread.join()
    cpu_after = os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    errors: collections.Counter[str] = collections.Counter()
    for o in outs:
        errors.update(o.get("errors", {}))
    try:
        pipe.send({"latencies": [x for o in outs for x in o.get("latencies", [])], "errors": dict(errors),
                   "samples": [s for o in outs for s in o.get("samples", [])][:5],
                   "reconnects": sum(o.get("reconnects", 0) for o in outs),
                   "last_done": max((o.get("last_done", 0.0) for o in outs), default=0.0), "cpu_seconds": cpu})
        pipe.close()
    except OSError:
        pass


# ---------------------------------------------------------------- orchestration

class Server:
    """``python -m agent.cli serve RUN --port 0 --quiet [--workers N]`` in its own session; output collected."""

    def __init__(self, run_dir: Path, workers: int, timeout: float = 120) -> None:
        command = [sys.executable, "-m", "agent.cli", "serve", str(run_dir), "--port", "0", "--quiet"]
        if workers > 1:
            command += ["--workers", str(workers)]
        self.command = command
        self.proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.lines: collections.deque[str] = collections.deque(maxlen=200)
        self.line_count = 0
        self.url: str | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(timeout) or self.url is None:
            code = self.stop()
            raise RuntimeError(f"mlpilot serve did not start (exit {code}):\n{self.output}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self.line_count += 1
            found = URL.search(line)
            if found and self.url is None:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then the exit code (SIGKILL after ``timeout`` s: returns None then)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return None
        time.sleep(0.1)  # the reader thread takes the last lines
        return self.proc.returncode


def _http(url: str, method: str, path: str, body: bytes | None, headers: dict[str, str],
          timeout: float = 60) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body, headers)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _wait_healthy(server: Server, headers: dict[str, str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        try:
            status, data = _http(server.url or "", "GET", "/health", None, headers, timeout=5)
            if status == 200:
                return json.loads(data)
            last = f"HTTP {status}: {data[:200]!r}"
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.2)
    raise RuntimeError(f"GET /health did not answer 200 ({last}); server output:\n{server.output}")


def _tree_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of ``pid`` and its descendants, from /proc; None off Linux."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        parents: dict[int, int] = {}
        times: dict[int, float] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            parents[int(entry)] = int(fields[1])
            times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError):
        return None
    family, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in family:
                family.add(child)
                frontier.append(child)
    return sum(times.get(p, 0.0) for p in family)


def _percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def run_cell(server: Server, headers: dict[str, str], bodies: list[bytes], rows: int, connections: int,
             seconds: float, client_procs: int) -> dict:
    """One cell: ``connections`` keep-alive connections sending ``rows``-row requests for ``seconds``."""
    parts = urlsplit(server.url or "")
    procs = max(1, min(client_procs, connections))
    shares = [connections // procs + (1 if k < connections % procs else 0) for k in range(procs)]
    context = multiprocessing.get_context("spawn")
    workers: list[tuple[Any, Any]] = []
    try:
        offset = 0
        for share in shares:
            ours, theirs = context.Pipe()
            proc = context.Process(target=_client_process, daemon=True,
                                   args=(theirs, parts.hostname, parts.port, headers, bodies, rows, share, offset))
            proc.start()
            theirs.close()
            workers.append((proc, ours))
            offset += share * max(1, len(bodies) // max(1, connections))
        for proc, pipe in workers:
            _receive(proc, pipe, REQUEST_TIMEOUT + 60, "finish its warm-up")
        start = time.monotonic() + 0.2
        window = (start, start + seconds)
        for _, pipe in workers:
            pipe.send(window)
        time.sleep(max(0.0, start - time.monotonic()))
        server_cpu = _tree_cpu(server.proc.pid)
        time.sleep(max(0.0, window[1] - time.monotonic()))
        server_cpu_after = _tree_cpu(server.proc.pid)
        results = [_receive(proc, pipe, REQUEST_TIMEOUT + 60, "report") for proc, pipe in workers]
    finally:
        for proc, pipe in workers:
            pipe.close()
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    errors: collections.Counter[str] = collections.Counter()
    for r in results:
        errors.update(r["errors"])
    elapsed = max(max((r["last_done"] for r in results), default=0.0), window[1]) - window[0]
    ok = len(latencies)
    cpu_server = None
    if server_cpu is not None and server_cpu_after is not None:
        cpu_server = (server_cpu_after - server_cpu) / seconds
    return {"connections": connections, "rows_per_request": rows, "seconds": round(elapsed, 3),
            "requests_ok": ok, "requests_per_s": round(ok / elapsed, 2), "rows_per_s": round(ok * rows / elapsed, 1),
            "p50_ms": _ms(_percentile(latencies, 50)), "p90_ms": _ms(_percentile(latencies, 90)),
            "p99_ms": _ms(_percentile(latencies, 99)), "max_ms": _ms(latencies[-1] if latencies else None),
            "errors": sum(errors.values()), "error_kinds": dict(errors),
            "error_samples": [s for r in results for s in r["samples"]][:5],
            "reconnects": sum(r["reconnects"] for r in results), "client_processes": procs,
            "server_cpu_cores": round(cpu_server, 2) if cpu_server is not None else None,
            "client_cpu_cores": round(sum(r["cpu_seconds"] for r in results) / elapsed, 2),
            "server_alive": server.proc.poll() is None}


def _receive(proc: Any, pipe: Any, timeout: float, what: str) -> Any:
    try:
        if pipe.poll(timeout):
            return pipe.recv()
    except (EOFError, OSError):
        pass
    raise RuntimeError(f"a client process did not {what} (exit code {proc.exitcode})")


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 2) if seconds is not None else None


def make_run(runs_dir: Path, budget: float) -> Path:
    command = [sys.executable, "-m", "agent.cli", "run", str(ROOT / "examples" / "titanic.csv"),
               "--goal", "predict who survived", "--budget", f"{budget:g}", "--runs-dir", str(runs_dir),
               "--json", "--quiet"]
    print(f"making a run: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=budget * 3 + 120)
    try:
        summary = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"mlpilot run gave no JSON summary (exit {done.returncode}):\n{done.stderr[-2000:]}")
    if not summary.get("run_dir") or not summary.get("model_file"):
        raise RuntimeError(f"mlpilot run saved no model (exit {done.returncode}): {summary.get('error')}")
    return Path(summary["run_dir"])


def request_bodies(rows_file: Path, target: str, seed: int) -> tuple[dict[int, list[bytes]], int]:
    """Bodies per rows-per-request: every row alone, and 8 samples of 1,000 rows drawn with replacement."""
    import pandas as pd

    frame = pd.read_csv(rows_file)
    frame = frame.drop(columns=[target], errors="ignore")
    records = json.loads(frame.to_json(orient="records"))
    bodies = {1: [json.dumps([r]).encode() for r in records]}
    for rows in ROWS_PER_REQUEST:
        if rows == 1:
            continue
        bodies[rows] = [json.dumps(json.loads(frame.sample(rows, replace=True, random_state=seed + k)
                                              .to_json(orient="records"))).encode() for k in range(8)]
    return bodies, len(records)


def machine() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "agent", "tools"], cwd=ROOT, capture_output=True,
                           text=True)
    return {"cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "commit": commit.stdout.strip() or None, "agent_or_tools_modified": bool(dirty.stdout.strip())}


def table(cells: list[dict]) -> str:
    lines = ["| connections | rows/request | requests/s | rows/s | p50 ms | p99 ms | errors | reconnects "
             "| server CPU | client CPU |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in cells:
        def num(value: float | None, fmt: str) -> str:
            return format(value, fmt) if value is not None else "-"
        lines.append(f"| {c['connections']} | {c['rows_per_request']:,} | {c['requests_per_s']:,.1f} "
                     f"| {c['rows_per_s']:,.0f} | {num(c['p50_ms'], ',.1f')} | {num(c['p99_ms'], ',.1f')} "
                     f"| {c['errors']:,} | {c['reconnects']:,} | {num(c['server_cpu_cores'], '.2f')} "
                     f"| {num(c['client_cpu_cores'], '.2f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="run folder to serve (default: make one from examples/titanic.csv)")
    parser.add_argument("--rows-file", type=Path, default=ROOT / "examples" / "titanic.csv",
                        help="CSV whose rows (target dropped) make the requests (default examples/titanic.csv)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per cell (default 10)")
    parser.add_argument("--quick", action="store_true", help="2 s per cell (a smoke test)")
    parser.add_argument("--workers", type=int, default=1, help="mlpilot serve --workers (default 1)")
    parser.add_argument("--client-procs", type=int, default=1,
                        help="load-generating processes, connections split among them (default 1)")
    parser.add_argument("--budget", type=float, default=30.0, help="budget of the run made without --run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the 1,000-row samples")
    parser.add_argument("--keep", action="store_true", help="keep the temporary runs folder")
    args = parser.parse_args(argv)
    seconds = 2.0 if args.quick else args.seconds
    info = machine()
    print(f"machine: {info['cores']} cores ({info['usable_cores']} usable), load average "
          f"{' '.join(map(str, info['load_average']))}, Python {info['python']}, "
          + ", ".join(f"{k} {v or 'not installed'}" for k, v in info["packages"].items()), flush=True)
    print(f"the client runs on the same {info['usable_cores']} cores as the server ({args.client_procs} load "
          "process(es)): the figures are a floor of what the server does on its own machine", flush=True)
    temp: Path | None = None
    run_dir = args.run
    token = os.environ.get("MLPILOT_SERVE_TOKEN")
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    server: Server | None = None
    cells: list[dict] = []
    record: dict[str, Any] = {"run_dir": str(run_dir), "seconds_per_cell": seconds, "workers": args.workers,
                              "client_processes": args.client_procs, "client": "http.client.HTTPConnection, "
                              "one keep-alive connection and thread per concurrent connection", "machine": info}
    exit_code: int | None = None
    interrupted = False
    try:
        if run_dir is None:
            temp = Path(tempfile.mkdtemp(prefix="mlpilot-bench-serve-"))
            run_dir = make_run(temp / "runs", args.budget)
            record["run_dir"] = str(run_dir)
        server = Server(run_dir, args.workers)
        health = _wait_healthy(server, headers)
        status, data = _http(server.url or "", "GET", "/metadata", None, headers)
        meta = json.loads(data) if status == 200 else {}
        target = meta.get("target") or "survived"
        bodies, n_rows = request_bodies(args.rows_file, target, args.seed)
        status, data = _http(server.url or "", "POST", "/predict", bodies[ROWS_PER_REQUEST[-1]][0], headers)
        if status != 200:
            raise RuntimeError(f"a first {ROWS_PER_REQUEST[-1]}-row request failed: HTTP {status} {data[:500]!r}")
        first = json.loads(data)
        if len(first.get("predictions", [])) != ROWS_PER_REQUEST[-1]:
            raise RuntimeError(f"a first {ROWS_PER_REQUEST[-1]}-row request got {len(first.get('predictions', []))} "
                               "predictions")
        record.update(run_id=health.get("run_id"), model=(meta.get("model") or {}).get("label"), target=target,
                      rows_file=str(args.rows_file), rows_in_file=n_rows, server_url=server.url,
                      server_command=server.command[1:], notes_on_first_request=first.get("notes"))
        print(f"serving {record['run_id']} ({record['model']}) at {server.url}, pid {server.proc.pid}; "
              f"{seconds:g} s per cell; rows from {args.rows_file.name} without {target!r}", flush=True)
        if first.get("notes"):
            print(f"notes on a {ROWS_PER_REQUEST[-1]}-row request: {first['notes']}", flush=True)
        for rows in ROWS_PER_REQUEST:
            for connections in CONNECTIONS:
                cell = run_cell(server, headers, bodies[rows], rows, connections, seconds, args.client_procs)
                cells.append(cell)
                print(f"  {connections:>2} connections x {rows:>5,} rows: {cell['requests_per_s']:,.1f} req/s, "
                      f"{cell['rows_per_s']:,.0f} rows/s, p50 {cell['p50_ms']} ms, p99 {cell['p99_ms']} ms, "
                      f"errors {cell['errors']} {cell['error_kinds'] or ''}", flush=True)
                if not cell["server_alive"]:
                    raise RuntimeError(f"the server exited during the cell:\n{server.output}")
        _, data = _http(server.url or "", "GET", "/health", None, headers)
        record["health_at_end"] = json.loads(data)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping the server", file=sys.stderr, flush=True)
    except RuntimeError as exc:
        record["error"] = str(exc)
        print(f"error: {exc}", file=sys.stderr, flush=True)
    finally:
        if server is not None:
            exit_code = server.stop()
            record.update(server_exit_code=exit_code, server_output_lines=server.line_count,
                          server_output_tail=list(server.lines)[-50:])
        if temp is not None and not args.keep:
            shutil.rmtree(temp, ignore_errors=True)
        elif temp is not None:
            print(f"kept {temp}", file=sys.stderr)
    record["cells"] = cells
    report = table(cells)
    print()
    print(report)
    if server is not None:
        how = {None: " (still running 30 s after SIGTERM: killed)", 0: " (clean)"}.get(exit_code, "")
        if exit_code is not None and exit_code < 0:
            how = f" (ended by signal {-exit_code} itself, not a clean exit 0)"
        print(f"\nserver stopped with SIGTERM: exit code {exit_code}{how}")
    end = record.get("health_at_end") or {}
    if end:
        print(f"server counters at the end: {end.get('requests'):,} requests, {end.get('rows_predicted'):,} rows, "
              f"{end.get('refused')} refused, {end.get('failed')} failed"
              + (" (one worker's counters only)" if args.workers > 1 else ""))
    if server is not None and server.line_count:
        print(f"server printed {server.line_count} line(s); the last ones:\n  " + "\n  ".join(list(server.lines)[-10:]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"bench-serve-{stamp}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    packages = ", ".join(f"{k} {v or 'not installed'}" for k, v in info["packages"].items())
    modified = " (agent/ or tools/ modified)" if info["agent_or_tools_modified"] else ""
    out.with_suffix(".md").write_text(
        f"# mlpilot serve, {stamp}\n\nRun {record.get('run_id')} ({record.get('model')}), {args.workers} worker(s), "
        f"{seconds:g} s per cell, {args.client_procs} client process(es) on the same machine.\n\n"
        f"Machine: {info['cores']} cores, load average {' '.join(map(str, info['load_average']))} at start, Python "
        f"{info['python']}, {packages}; commit {info['commit']}{modified}.\n\n{report}\n\n"
        f"Server exit code after SIGTERM: {exit_code}.\n")
    print(f"results: {out} (and .md)")
    failed = interrupted or "error" in record or exit_code != 0
    return 130 if interrupted else (1 if failed else 0)


if __name__ == "__main__":
    raise SystemExit(main())
