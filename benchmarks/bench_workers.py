"""Tuning spread over processes: one run's studies in PostgreSQL, tuned by 1, 2 and 4 processes.

Run from the repository root:

    .venv/bin/python benchmarks/bench_workers.py [--budget 190] [--counts 1,2,4] [--data CSV --target T] [--quick]

It starts a throwaway PostgreSQL server (`tests/pg.py`: Debian's binaries, a private folder, removed at the
end) and, for each process count N, runs the same tuning the way a user would: `python -m agent.cli run
DATA --target T --storage URL --budget B --seed 42 --json --quiet` in a fresh temporary runs folder
(`MLPILOT_RUNS_DIR`), and N-1 `python -m agent.cli worker RUN_DIR --storage URL` started as soon as the run's
folder (its manifest) appears; the workers wait for tuning to start and stop at the run's deadline. Every
process gets one core's worth of threads (`MLPILOT_N_JOBS=1`), so the comparison is per process. Each
process runs in its own session with its output in a file; Ctrl-C stops the benchmark's own processes.

What it reports per N, after every process has exited:
- tuning seconds: planned (`tuning_started.seconds`) and actual (from `tuning_started` to `tuning_finished`
  in the run's events.jsonl);
- trials in the run's studies, counted in the database (every study named `<run id>/tune-*`): by state
  and by process (host:pid), without the selection result each study is seeded with and without queued
  configurations nobody started; complete trials per second of actual tuning;
- the best cross-validated score in those studies (and which process found it), and the run's final
  holdout score (metrics.json, its primary metric);
- the run's `workers` event (trials per process; from workers: their trials in any state; pooled: their
  complete trials the ensemble pool took, which keeps each candidate's best 6, so fewer is normal);
- the run's wall time (process start to exit), the CPU the run and workers used (cores busy on average over
  the run's wall; PostgreSQL's own not counted), exit codes;
- checks: trials left RUNNING (lost), each worker's own count against the database's, the run's trial events
  against its trials in the database, worker trials completed after the run closed tuning (too late for the
  pool), worker files left in the run folder after it removed what it shared, and suspicious lines in every
  process's output (tracebacks, errors, warnings).

Load and cores are recorded at the start of each N. On a machine with fewer cores than processes (4 on 2
cores) the processes share cores: such a row measures contention, not scale. The tables are printed and
saved with the machine's details in `benchmarks/results/bench-workers-<stamp>.json` and `.md`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "phoneme.csv"
PACKAGES = ("mlpilot", "optuna", "sqlalchemy", "psycopg", "lightgbm", "catboost", "xgboost", "scikit-learn")
SUSPICIOUS = re.compile(r"traceback|error|exception|warn|fail|lost|stale|killed", re.IGNORECASE)
# A worker's per-trial progress line: "trial lgbm#12: complete roc_auc 0.9512, 1.3 s"; not suspicious unless failed.
TRIAL_LINE = re.compile(r"^trial \S+#\d+: (complete|pruned|cut)\b")


# ---------------------------------------------------------------- processes

class Proc:
    """A subprocess in its own session, stdout and stderr in files under ``folder``."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.command = command
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        self.started = time.monotonic()
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err, text=True,
                                         start_new_session=True)
        self.ended: float | None = None
        # Timed by a thread of its own: the benchmark waits for the run first, and a worker's exit is when it
        # happens, not when the benchmark gets to it.
        threading.Thread(target=self._time_exit, daemon=True).start()

    def _time_exit(self) -> None:
        self.proc.wait()
        self.ended = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        code = self.proc.poll()
        if code is not None and self.ended is None:
            self.ended = time.monotonic()
        return code

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None after ``timeout`` s (then SIGTERM, and SIGKILL 30 s later, to its group)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            return None
        return self.poll()

    def stop(self) -> None:
        """SIGTERM to this process's own group, SIGKILL after 30 s; nothing when it has exited."""
        if self.proc.poll() is not None:
            self.poll()
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        self.poll()

    @property
    def wall(self) -> float | None:
        return round(self.ended - self.started, 1) if self.ended is not None else None

    def output(self) -> tuple[str, str]:
        def read(path: Path) -> str:
            try:
                return path.read_text(errors="replace")
            except OSError:
                return ""
        return read(self.out_path), read(self.err_path)


def suspicious_lines(text: str, limit: int = 20) -> list[str]:
    """Lines of a process's output that look like trouble (tracebacks, errors, warnings, failed trials)."""
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and SUSPICIOUS.search(stripped) and not TRIAL_LINE.match(stripped):
            found.append(stripped[:300])
    return found[:limit] + ([f"... {len(found) - limit} more"] if len(found) > limit else [])


def wait_for_run_folder(runs_dir: Path, run: Proc, timeout: float) -> Path:
    """The run's folder as soon as its manifest.json names a run id (polled every 50 ms)."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        for manifest in runs_dir.glob("*/manifest.json"):
            try:
                if isinstance(json.loads(manifest.read_text()).get("run_id"), str):
                    return manifest.parent
            except (OSError, ValueError, AttributeError):
                pass
        if run.poll() is not None:
            break
        time.sleep(0.05)
    out, err = run.output()
    raise RuntimeError(f"no run folder appeared in {runs_dir} (run exit {run.poll()}):\n{err[-2000:]}{out[-500:]}")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- reading what a run left

def read_events(run_dir: Path) -> list[dict]:
    events = []
    try:
        lines = (run_dir / "events.jsonl").read_text().splitlines()
    except OSError:
        return events
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            events.append({"kind": "unreadable", "line": line[:200]})
    return events


def first(events: list[dict], kind: str) -> dict | None:
    return next((e for e in events if e.get("kind") == kind), None)


def parse_ts(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def tuning_closed(run_dir: Path, finished: dict | None) -> dt.datetime | None:
    """When the run told its workers that tuning was over (clock.json written with done), else tuning_finished."""
    try:
        clock = json.loads((run_dir / "tuning" / "clock.json").read_text())
        if clock.get("done"):
            return dt.datetime.fromtimestamp(float(clock["written"]), dt.timezone.utc)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return parse_ts(finished.get("ts")) if finished else None


def study_facts(url: str, run_id: str, tuning_closed: dt.datetime | None, coordinator: str | None) -> dict:
    """Trials of the run's studies (``<run_id>/tune-*``) from the database: states, processes, best score."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url)
    names = sorted(n for n in optuna.study.get_all_study_names(storage) if n.startswith(f"{run_id}/tune-"))
    states: Counter[str] = Counter()
    by_worker: dict[str, Counter[str]] = {}
    seeds = waiting = late = 0
    errors: Counter[str] = Counter()
    best: dict[str, Any] | None = None
    running: list[str] = []
    for name in names:
        study = optuna.load_study(study_name=name, storage=storage)
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        for t in study.get_trials(deepcopy=False):
            if t.state == TrialState.WAITING:
                waiting += 1
                continue
            worker = t.user_attrs.get("worker") or "?"
            if t.state == TrialState.COMPLETE and t.value is not None:
                if best is None or (t.value > best["value"] if maximize else t.value < best["value"]):
                    best = {"value": t.value, "study": name, "trial": t.number, "worker": worker,
                            "source": t.user_attrs.get("source"), "maximize": maximize}
            if t.user_attrs.get("source") == "selection":
                seeds += 1
                continue
            state = t.state.name.lower()
            states[state] += 1
            by_worker.setdefault(worker, Counter())[state] += 1
            if t.state == TrialState.RUNNING:
                running.append(f"{name}#{t.number} ({worker})")
            if t.state == TrialState.FAIL and t.user_attrs.get("error"):
                errors[str(t.user_attrs["error"])[:200]] += 1
            done = t.datetime_complete
            if (t.state == TrialState.COMPLETE and worker != coordinator and tuning_closed is not None
                    and done is not None and done.astimezone(dt.timezone.utc) > tuning_closed):
                late += 1
    storage.engine.dispose()
    return {"studies": names, "trials": sum(states.values()), "states": dict(states),
            "by_worker": {w: dict(c) for w, c in sorted(by_worker.items())}, "selection_seeds": seeds,
            "queued_never_started": waiting, "running_left": running, "fail_errors": dict(errors),
            "worker_complete_after_tuning_closed": late, "best": best}


def worker_done_counts(stdout: str) -> dict[str, int] | None:
    """A worker's own tally from its last line, ``worker done: 12 complete, 3 pruned; ...``."""
    found = re.search(r"worker done: (.*?);", stdout)
    if not found:
        return None
    if found.group(1).strip() == "no trials":
        return {}
    return {state: int(n) for n, state in re.findall(r"(\d+) (\w+)", found.group(1))}


# ---------------------------------------------------------------- one process count

def run_count(n: int, args: argparse.Namespace, url: str, temp: Path) -> dict:
    """The run plus ``n - 1`` workers on the same studies; everything the run and the database say."""
    folder = temp / f"n{n}"
    runs_dir = folder / "runs"
    runs_dir.mkdir(parents=True)
    env = {**os.environ, "MLPILOT_RUNS_DIR": str(runs_dir), "MLPILOT_N_JOBS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("MLPILOT_STORAGE", None)
    load = [round(x, 2) for x in os.getloadavg()]
    cpu_before = children_cpu()
    run_cmd = [sys.executable, "-m", "agent.cli", "run", str(args.data), "--target", args.target, "--storage", url,
               "--budget", f"{args.budget:g}", "--seed", str(args.seed), "--json", "--quiet"]
    print(f"\n[{n} process(es)] load average {' '.join(map(str, load))}; "
          f"{' '.join(run_cmd[1:]).replace(url, 'URL')}", flush=True)
    run = Proc("run", run_cmd, env, folder)
    workers: list[Proc] = []
    row: dict[str, Any] = {"processes": n, "load_average_at_start": load, "command": run_cmd[1:]}
    try:
        run_dir = wait_for_run_folder(runs_dir, run, 120)
        appeared = time.monotonic() - run.started
        for k in range(1, n):
            cmd = [sys.executable, "-m", "agent.cli", "worker", str(run_dir), "--storage", url]
            workers.append(Proc(f"worker{k}", cmd, env, folder))
        print(f"  run folder {run_dir.name} after {appeared:.1f} s; {n - 1} worker(s) started", flush=True)
        code = run.wait(args.budget * 3 + 120)
        # Workers stop at the run's deadline; a worker alive a minute after the run exited is a bug, stopped.
        worker_codes = [w.wait(60 if code is not None else 5) for w in workers]
    finally:
        for proc in (run, *workers):
            proc.stop()
    cpu = children_cpu() - cpu_before
    events = read_events(run_dir)
    started, finished = first(events, "tuning_started"), first(events, "tuning_finished")
    workers_event = first(events, "workers")
    run_started = first(events, "run_started") or {}
    out, err = run.output()
    try:
        summary = json.loads(out)
    except ValueError:
        summary = {"unparsed_stdout": out[-2000:]}
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        metrics = {}
    primary = metrics.get("primary")
    closed = tuning_closed(run_dir, finished)
    coordinator = f"{socket.gethostname()}:{run.pid}"
    db = study_facts(url, run_dir.name, closed, coordinator)
    tuning_actual = round(finished["t"] - started["t"], 1) if started and finished else None
    complete = db["states"].get("complete", 0)
    finished_trials = sum(v for k, v in db["states"].items() if k != "running")
    trial_events = [e for e in events if e.get("kind") == "trial"]
    processes = []
    for proc, pcode in [(run, code), *zip(workers, worker_codes)]:
        pout, perr = proc.output()
        name = f"{socket.gethostname()}:{proc.pid}"
        own = worker_done_counts(pout) if proc is not run else dict(Counter(e.get("state") for e in trial_events))
        processes.append({"process": proc.name, "worker": name, "pid": proc.pid, "exit_code": pcode,
                          "wall_s": proc.wall, "db_trials": db["by_worker"].get(name, {}), "own_count": own,
                          # The run's stdout is its JSON summary ("error": null): only its stderr is scanned.
                          "suspicious": suspicious_lines(perr if proc is run else perr + "\n" + pout),
                          "stderr_tail": perr.splitlines()[-15:],
                          "stdout_tail": pout.splitlines()[-5:]})
    notes = []
    for p in processes:
        db_count = {k: v for k, v in p["db_trials"].items() if v}
        own = p["own_count"]
        if own is None:
            notes.append(f"{p['process']} printed no 'worker done' tally (exit {p['exit_code']})")
        else:
            # The run logs a cut trial as failed in the database; compare finished trials only.
            own_total, db_total = sum(own.values()), sum(db_count.values())
            if own_total != db_total or own.get("complete", 0) != db_count.get("complete", 0):
                notes.append(f"{p['process']} counted {own} itself; the database has {db_count} for {p['worker']}")
        if p["exit_code"] != 0:
            notes.append(f"{p['process']} exit code {p['exit_code']}")
        if p["suspicious"]:
            notes.append(f"{p['process']} printed {len(p['suspicious'])} suspicious line(s), e.g. "
                         f"{p['suspicious'][0]!r}")
    if db["running_left"]:
        notes.append(f"{len(db['running_left'])} trial(s) left RUNNING (lost): {', '.join(db['running_left'][:5])}")
    unknown = sorted(set(db["by_worker"]) - {p["worker"] for p in processes})
    if unknown:
        notes.append(f"trials recorded by processes the benchmark did not start: {unknown}")
    from_workers_db = sum(v.get("complete", 0) for w, v in db["by_worker"].items() if w != coordinator)
    if db["worker_complete_after_tuning_closed"]:
        notes.append(f"{db['worker_complete_after_tuning_closed']} worker trial(s) completed after the run "
                     "closed tuning (too late for its pool)")
    # Tuning is over and the run removed what it shared: a file still there was saved after that.
    leftovers = sorted(str(p.relative_to(run_dir)) for p in (run_dir / "tuning" / "results").glob("*/*"))
    if leftovers:
        notes.append(f"{len(leftovers)} file(s) left in the run folder after it removed the workers' predictions "
                     f"(saved after tuning closed): {', '.join(leftovers[:4])}")
    if n > 1 and workers_event is None:
        notes.append("no workers event in the run's events")
    for e in events:
        if e.get("kind") in ("warning", "error"):
            text = e.get("message") or e.get("error") or e
            notes.append(f"run event {e['kind']}: {str(text)[:300]}")
    if db["fail_errors"]:
        notes.append(f"failed trials' errors: {db['fail_errors']}")
    best = db["best"] or {}
    row.update(
        run_id=run_dir.name, run_exit_code=code, status=summary.get("status"), run_wall_s=run.wall,
        run_elapsed_s=(first(events, "run_finished") or {}).get("elapsed"),
        run_folder_after_s=round(appeared, 2), n_jobs=(run_started.get("settings") or {}).get("n_jobs"),
        tuning_planned_s=started.get("seconds") if started else None, tuning_actual_s=tuning_actual,
        shares=started.get("shares") if started else None,
        stopped=finished.get("stopped") if finished else None,
        run_tuning_finished=({"trials": finished.get("trials"), "states": finished.get("states")} if finished
                             else None),
        db=db, complete=complete, finished_trials=finished_trials,
        complete_per_s=round(complete / tuning_actual, 3) if tuning_actual else None,
        trials_per_s=round(finished_trials / tuning_actual, 3) if tuning_actual else None,
        best_cv=best.get("value"), best_cv_by=("run" if best.get("worker") == coordinator else best.get("worker")),
        best_cv_source=best.get("source"), metric=primary,
        holdout=(metrics.get("metrics") or {}).get(primary) if primary else None,
        model=summary.get("model") or summary.get("model_label"),
        workers_event={k: workers_event.get(k) for k in ("trials", "coordinator", "from_workers", "pooled")}
        if workers_event else None, workers_complete=from_workers_db, leftover_files=leftovers,
        cpu_seconds=round(cpu, 1), cpu_cores_busy=round(cpu / run.wall, 2) if run.wall else None,
        processes_detail=processes, notes=notes, summary={k: v for k, v in summary.items()
                                                           if isinstance(v, (str, int, float, bool, type(None)))})
    print(f"  tuning {row['tuning_actual_s']} s (planned {row['tuning_planned_s']}), stopped by {row['stopped']}; "
          f"{finished_trials} trials {db['states']}, {complete} complete ({row['complete_per_s']}/s); best CV "
          f"{_num(row['best_cv'])} ({row['best_cv_by']}), holdout {primary} {_num(row['holdout'])}; "
          f"wall {run.wall} s, exit {code}", flush=True)
    for note in notes:
        print(f"  ! {note}", flush=True)
    return row


# ---------------------------------------------------------------- report

def _num(value: float | None, fmt: str = ".4f") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "-"


def table(rows: list[dict]) -> str:
    lines = ["| processes | tuning s (planned) | stopped by | trials | complete | pruned | failed or cut | complete/s "
             "| trials/s | best CV (by) | holdout | from workers | pooled | run wall s | CPU cores busy |",
             "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: |"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['processes']} | error: {r['error'][:80]} |" + " |" * 13)
            continue
        states = r["db"]["states"]
        we = r.get("workers_event") or {}
        by = r.get("best_cv_by") or "-"
        by = by if by == "run" else "worker " + by.rsplit(":", 1)[-1]
        lines.append(
            f"| {r['processes']} | {_num(r['tuning_actual_s'], '.1f')} ({_num(r['tuning_planned_s'], '.1f')}) "
            f"| {r.get('stopped') or '-'} "
            f"| {r['finished_trials']} | {r['complete']} | {states.get('pruned', 0)} | {states.get('fail', 0)} "
            f"| {_num(r['complete_per_s'], '.2f')} | {_num(r['trials_per_s'], '.2f')} "
            f"| {_num(r['best_cv'])} ({by}) | {_num(r['holdout'])} | {we.get('from_workers', '-')} "
            f"| {we.get('pooled', '-')} | {_num(r['run_wall_s'], '.1f')} | {_num(r['cpu_cores_busy'], '.2f')} |")
    return "\n".join(lines)


def process_table(rows: list[dict]) -> str:
    lines = ["| processes | process | exit | wall s | trials in the database | its own count |",
             "| ---: | --- | ---: | ---: | --- | --- |"]
    for r in rows:
        for p in r.get("processes_detail", []):
            db = ", ".join(f"{v} {k}" for k, v in sorted(p["db_trials"].items())) or "none"
            own = p["own_count"]
            own_text = "-" if own is None else (", ".join(f"{v} {k}" for k, v in sorted(own.items())) or "none")
            lines.append(f"| {r['processes']} | {p['process']} ({p['worker']}) | {p['exit_code']} "
                         f"| {_num(p['wall_s'], '.1f')} | {db} | {own_text} |")
    return "\n".join(lines)


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
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": os.cpu_count(), "usable_cores": usable, "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform(), "host": socket.gethostname(),
            "packages": versions, "commit": commit.stdout.strip() or None,
            "agent_or_tools_modified": dirty.stdout.split("\n") if dirty.stdout.strip() else []}


def server_version(host: str, port: int, user: str, database: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(host=host, port=port, user=user, dbname=database) as conn:
            row = conn.execute("show server_version").fetchone()
            return str(row[0]) if row else None
    except Exception:  # only a label in the report
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CSV to tune on (default phoneme.csv)")
    parser.add_argument("--target", default="class", help="target column (default class)")
    parser.add_argument("--budget", type=float, default=190.0,
                        help="mlpilot run --budget in seconds (default 190: about 150 s of tuning planned on "
                             "phoneme; convergence may end it sooner)")
    parser.add_argument("--counts", default="1,2,4", help="process counts, run plus workers (default 1,2,4)")
    parser.add_argument("--seed", type=int, default=42, help="mlpilot run --seed (default 42)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: --budget 40, counts 1 and 2")
    parser.add_argument("--pause", type=float, default=10.0, help="seconds of rest between counts (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (runs, process output)")
    args = parser.parse_args(argv)
    if args.quick:
        args.budget, args.counts = 40.0, "1,2"
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    if not args.data.exists():
        parser.error(f"no such file: {args.data}")
    sys.path.insert(0, str(ROOT))
    from tests.pg import PostgresUnavailable, postgres_server

    info = machine()
    print(f"machine: {info['cores']} cores ({info['usable_cores']} usable), load average "
          f"{' '.join(map(str, info['load_average']))}, Python {info['python']}, "
          + ", ".join(f"{k} {v or 'not installed'}" for k, v in info["packages"].items())
          + f"; commit {info['commit']}" + (" (agent/ or tools/ modified)" if info["agent_or_tools_modified"] else ""),
          flush=True)
    over = [n for n in counts if n > (info["usable_cores"] or 1)]
    contention = (f"{', '.join(map(str, over))} processes share {info['usable_cores']} cores: those rows measure "
                  "contention for the cores, not scale" if over else "")
    if contention:
        print(f"note: {contention}", flush=True)
    temp = Path(tempfile.mkdtemp(prefix="mlpilot-bench-workers-"))
    rows: list[dict] = []
    record: dict[str, Any] = {"data": str(args.data), "target": args.target, "budget": args.budget,
                              "seed": args.seed, "counts": counts, "n_jobs_per_process": 1, "machine": info,
                              "contention_note": contention, "rows": rows}
    interrupted = False
    try:
        with postgres_server(temp / "pg", database="mlpilot_bench") as pg:
            record["postgres"] = server_version(pg.host, pg.port, pg.user, pg.database)
            print(f"PostgreSQL {record['postgres']} at 127.0.0.1:{pg.port} (throwaway, {pg.data_dir})", flush=True)
            for i, n in enumerate(counts):
                if i:
                    time.sleep(args.pause)
                try:
                    rows.append(run_count(n, args, pg.url, temp))
                except RuntimeError as exc:
                    rows.append({"processes": n, "error": str(exc)})
                    print(f"  error: {exc}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted", file=sys.stderr, flush=True)
    except PostgresUnavailable as exc:
        record["error"] = str(exc)
        print(f"error: {exc}", file=sys.stderr, flush=True)
    finally:
        if args.keep:
            print(f"kept {temp}", file=sys.stderr)
        else:
            shutil.rmtree(temp, ignore_errors=True)
    report = table(rows)
    per_process = process_table(rows)
    notes = [f"- {r['processes']} process(es): {note}" for r in rows for note in r.get("notes", [])]
    print()
    print(report)
    print()
    print(per_process)
    if notes:
        print("\nNotes:\n" + "\n".join(notes))
    if contention:
        print(f"\nNote: {contention}.")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"bench-workers-{stamp}.json"
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")
    packages = ", ".join(f"{k} {v or 'not installed'}" for k, v in info["packages"].items())
    modified = " (agent/ or tools/ modified)" if info["agent_or_tools_modified"] else ""
    out.with_suffix(".md").write_text(
        f"# mlpilot tuning over 1-{max(counts)} processes, {stamp}\n\n{args.data.name} (target {args.target}), "
        f"--budget {args.budget:g}, --seed {args.seed}, MLPILOT_N_JOBS=1 per process, studies in PostgreSQL "
        f"{record.get('postgres')} on the same machine.\n\nMachine: {info['cores']} cores, load average "
        f"{' '.join(map(str, info['load_average']))} at start, Python {info['python']}, {packages}; commit "
        f"{info['commit']}{modified}.\n\n{report}\n\n{per_process}\n\n"
        + ("Notes:\n\n" + "\n".join(notes) + "\n\n" if notes else "")
        + (f"Note: {contention}.\n" if contention else ""))
    print(f"results: {out} (and .md)")
    failed = interrupted or "error" in record or any("error" in r or r.get("run_exit_code") != 0 for r in rows)
    return 130 if interrupted else (1 if failed else 0)


if __name__ == "__main__":
    raise SystemExit(main())
