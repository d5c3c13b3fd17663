"""``mlpilot serve``: a run's model behind HTTP, on FastAPI and uvicorn.

Routes:
- ``POST /predict``: rows as JSON (a list of objects, ``{"records": [...]}`` or one object) or as CSV
  (``Content-Type: text/csv``, a header row first). They go through the same checks and the same model as
  `mlpilot predict` (`agent.use.predict.RunModel`), so the same rows get the same predictions: a
  ``prediction`` and, for classification, ``proba_<class>`` per class. JSON values are checked against the
  training types (`tools.records`); a missing column or a value of the wrong type is a 422 naming the
  column and the expected type. The answer is JSON (``predictions``, ``notes``, ``request_id``) or CSV when
  the request accepts ``text/csv``.
- ``GET /health``: liveness and counters, never behind the token (for load balancers).
- ``GET /metadata``: goal, task, metric, holdout metrics, input schema with types, run id, model hash.
- ``GET /docs`` and ``GET /openapi.json``: the OpenAPI description, with the request body's schema made
  from the run's input columns.

The model is loaded only when the user trusts it (`agent.record.trust`, as for predict). Bodies over
``max_body`` bytes are refused (413) before they are read whole. With ``MLPILOT_SERVE_TOKEN`` set,
``/predict`` and ``/metadata`` need ``Authorization: Bearer <token>``; the token is compared in constant
time and is never logged or written anywhere (uvicorn's access log has no headers). With ``log_inputs``
each request's rows and predictions are appended to daily files (`agent.use.inputlog`).

With ``workers`` above one, uvicorn runs that many processes on one socket; each loads the model itself
from the options passed in the environment variable ``MLPILOT_SERVE_OPTIONS`` (the token stays in
``MLPILOT_SERVE_TOKEN``, which the workers inherit).
"""

from __future__ import annotations

import errno
import hmac
import json
import logging
import os
import signal
import socket
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import anyio
import anyio.to_thread
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from agent.record.runfolder import read_json
from agent.use.inputlog import InputLog
from agent.use.predict import RunModel
from tools.errors import ConfigError, DataError
from tools.records import KIND_NAMES, payload_records, records_frame, refuse_unreadable, require_columns

OPTIONS_ENV = "MLPILOT_SERVE_OPTIONS"
TOKEN_ENV = "MLPILOT_SERVE_TOKEN"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
_JSON_TYPES = {"numeric": "number", "boolean": "boolean", "datetime": "string", "string": "string"}


@dataclass(frozen=True)
class ServeOptions:
    """How to serve a run (from ``mlpilot serve``'s flags and the settings)."""

    run_dir: Path
    home: Path
    trust: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_inputs: Path | None = None
    max_body: int = DEFAULT_MAX_BODY
    quiet: bool = False
    token: str | None = field(default=None, repr=False)

    def to_env(self) -> str:
        """The options for worker processes, without the token."""
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items() if k != "token"}
        return json.dumps(data)

    @classmethod
    def from_env(cls, text: str, token: str | None) -> ServeOptions:
        data = json.loads(text)
        for key in ("run_dir", "home", "log_inputs"):
            data[key] = Path(data[key]) if data.get(key) else None
        return cls(**data, token=token or None)


def app_from_environment() -> Any:
    """The app in a uvicorn worker process (``--workers`` above one): options from the environment."""
    options = ServeOptions.from_env(os.environ[OPTIONS_ENV], os.environ.get(TOKEN_ENV))
    return build_app(options)


def build_app(options: ServeOptions, *, run: RunModel | None = None, warn: Callable[[str], None] | None = None) -> Any:
    """The FastAPI application serving ``options.run_dir``'s model (loaded here unless ``run`` is given)."""
    log = logging.getLogger("uvicorn.error")
    warn = warn or log.warning
    run = run or RunModel.load(options.run_dir, home=options.home, trust=options.trust)
    for message in run.warnings:
        warn(message)
    inputs = InputLog(options.log_inputs, features=run.features, warn=warn) if options.log_inputs else None
    meta = metadata(run)
    counters = {"requests": 0, "rows": 0, "refused": 0, "failed": 0}
    # One prediction at a time per process: the models use the cores' threads themselves, and eight side by
    # side took twice as long per request in all (measured: 30 requests/s alone, 17 with 8 connections).
    # More processes (--workers) are what use more cores.
    one_at_a_time = anyio.CapacityLimiter(1)
    started = time.time()
    app = FastAPI(title=f"mlpilot model {meta['run_id']}", version=meta["mlpilot_version"],
                  description=_description(meta), redoc_url=None)

    def refuse(status: int, message: str, **headers: str) -> JSONResponse:
        counters["refused"] += 1
        return JSONResponse({"detail": message}, status_code=status, headers=headers or None)

    def allowed(request: Request) -> bool:
        if not options.token:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {options.token}".encode())

    @app.get("/health", summary="Liveness and counters", response_model=None)
    def health() -> dict:
        return {"status": "ok", "run_id": meta["run_id"], "model_sha256": meta["model"]["sha256"],
                "uptime_seconds": round(time.time() - started, 1), "pid": os.getpid(),
                "requests": counters["requests"], "rows_predicted": counters["rows"],
                "refused": counters["refused"], "failed": counters["failed"],
                "input_log": inputs.status() if inputs else None}

    @app.get("/metadata", summary="What this model is: goal, task, metric, holdout metrics, inputs, hash",
             response_model=None)
    def get_metadata(request: Request) -> Any:
        if not allowed(request):
            return refuse(401, "This service needs a token: send 'Authorization: Bearer <token>'.",
                          **{"WWW-Authenticate": "Bearer"})
        return meta

    @app.post("/predict", summary="Predict rows sent as JSON records or CSV",
              openapi_extra=_predict_openapi(run, meta), response_model=None)
    async def predict(request: Request) -> Any:
        counters["requests"] += 1
        if not allowed(request):
            return refuse(401, "This service needs a token: send 'Authorization: Bearer <token>'.",
                          **{"WWW-Authenticate": "Bearer"})
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if kind not in ("application/json", "text/csv", "text/plain", ""):
            return refuse(415, f"Content-Type {kind!r} is not accepted: send JSON (application/json) or CSV "
                          "(text/csv) with a header row.")
        body, too_big = await _read_body(request, options.max_body)
        if too_big:
            return refuse(413, f"The body is over the limit of {options.max_body:,} bytes; send fewer rows per "
                          "request (or start the service with a larger --max-body).")
        if not body.strip():
            return refuse(400, "The body is empty: send the rows as JSON records or as CSV with a header row.")
        try:  # off the event loop: reading 1,000 rows takes milliseconds other connections should not wait
            batch = await run_in_threadpool(_csv_batch if kind in ("text/csv", "text/plain") else _json_batch, body,
                                            run)
        except json.JSONDecodeError as exc:
            return refuse(400, f"The body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).")
        except DataError as exc:
            return refuse(422, str(exc))
        try:
            frame, result, notes = await anyio.to_thread.run_sync(run.predict, batch, limiter=one_at_a_time)
            if not isinstance(batch, pd.DataFrame):  # CSV: values intake could not read as their column's type
                refuse_unreadable(batch.frame, frame, run.schema, required=run.features)
        except DataError as exc:
            return refuse(422, str(exc))
        except Exception:  # a bug: logged with its traceback (the rows are not), the client gets one line
            counters["failed"] += 1
            log.exception("prediction failed")
            return JSONResponse({"detail": "internal error while predicting; see the service's log"},
                                status_code=500)
        request_id = uuid.uuid4().hex[:16]
        counters["rows"] += len(result)
        if inputs is not None:
            await run_in_threadpool(inputs.append, frame, result, request_id=request_id)
        headers = {"X-Request-Id": request_id}
        if "text/csv" in request.headers.get("accept", ""):
            return Response(result.to_csv(index=False), media_type="text/csv", headers=headers)
        rows = result.to_json(orient="records", double_precision=15)
        text = (f'{{"run_id": {json.dumps(meta["run_id"])}, "request_id": "{request_id}", "rows": {len(result)}, '
                f'"notes": {json.dumps(notes)}, "predictions": {rows}}}')
        return Response(text, media_type="application/json", headers=headers)

    return app


def metadata(run: RunModel) -> dict:
    """What ``GET /metadata`` says about the served model (from the run folder alone)."""
    from importlib.metadata import PackageNotFoundError, version

    m = run.manifest
    spec = run.spec
    metrics_path = run.run_dir / "metrics.json"
    metrics = read_json(metrics_path) if metrics_path.exists() else {}
    levels = {c: list(ref.get("levels", {}))[:50] for c, ref in run.reference.get("features", {}).items()
              if ref.get("kind") == "categorical"}
    kinds = {c["name"]: c for c in run.schema}
    schema = [{"name": name, "type": _JSON_TYPES.get(kinds.get(name, {}).get("kind", "string"), "string"),
               "kind": kinds.get(name, {}).get("kind", "string"),
               "expects": KIND_NAMES.get(kinds.get(name, {}).get("kind", "string")), "required": True,
               **({"levels": levels[name]} if name in levels else {})} for name in run.features]
    outputs = ["prediction"] + [f"proba_{c}" for c in spec.classes] if spec.task != "regression" else ["prediction"]
    try:
        mlpilot_version = version("mlpilot")
    except PackageNotFoundError:
        mlpilot_version = "0+unknown"
    return {"run_id": m["run_id"], "goal": m.get("goal", ""), "task": spec.task, "target": run.target,
            "metric": metrics.get("primary") or (m.get("plan") or {}).get("metric"),
            "holdout": {"rows": metrics.get("n_rows"), "metrics": metrics.get("metrics", {}),
                        "baseline": metrics.get("baseline", {}), "at_threshold": metrics.get("at_threshold", {})},
            "classes": [str(c) for c in spec.classes] if spec.task != "regression" else None,
            "threshold": spec.threshold, "inputs": schema, "outputs": outputs,
            "model": {"sha256": m["model"].get("sha256"), "label": metrics.get("model"),
                      "fitted_on": m["model"].get("fitted_on"), "file": m["model"].get("file")},
            "data": {"sha256": m["data"].get("sha256"), "rows": m["data"].get("rows")},
            "created": m.get("created"), "status": m.get("status"), "mlpilot_version": mlpilot_version}


def serve(options: ServeOptions, *, announce: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """Load the run's model, bind the address and serve until stopped (Ctrl-C or SIGTERM).

    Raises:
        ConfigError: the address cannot be bound (in use, not allowed), or the run cannot be served.
        UntrustedFile: the model is not signed by this user and ``trust`` is not given.
    """
    import uvicorn

    run = RunModel.load(options.run_dir, home=options.home, trust=options.trust)
    if run.warnings:
        for message in run.warnings:
            warn(message)
        run = RunModel(run.run_dir, run.model, run.manifest, [], run.reference)
    sock = _bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    level = "warning" if options.quiet else "info"
    if options.workers > 1:
        from uvicorn.supervisors import Multiprocess

        os.environ[OPTIONS_ENV] = options.to_env()
        config = uvicorn.Config("agent.use.serve:app_from_environment", factory=True, workers=options.workers,
                                log_level=level, access_log=not options.quiet, timeout_graceful_shutdown=10)
        announce(_announcement(run, shown, port, options))
        Multiprocess(config, sockets=[sock]).run()
        return
    app = build_app(options, run=run, warn=warn)
    config = uvicorn.Config(app, log_level=level, access_log=not options.quiet, timeout_graceful_shutdown=10)
    announce(_announcement(run, shown, port, options))
    # uvicorn shuts down gracefully on SIGINT or SIGTERM, then sends the signal again to the handler it found:
    # a stop is the normal end of a service, so that second delivery is ignored and the command exits 0.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _announcement(run: RunModel, host: str, port: int, options: ServeOptions) -> str:
    url = f"http://{host}:{port}"
    lines = [f"serving {run.manifest['run_id']} at {url}",
             f"  POST {url}/predict (JSON records or CSV)   GET {url}/health   GET {url}/metadata   docs: {url}/docs"]
    if options.workers > 1:
        lines.append(f"  {options.workers} worker processes")
    if options.log_inputs:
        lines.append(f"  logging received rows and predictions to {options.log_inputs} "
                     f"(check them with: mlpilot monitor {run.run_dir} {options.log_inputs})")
    if options.token:
        lines.append("  requests need 'Authorization: Bearer <token>' (the token in MLPILOT_SERVE_TOKEN)")
    lines.append("  Ctrl-C stops")
    return "\n".join(lines)


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), or a ConfigError saying what to change."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r} is not an address this machine can listen on ({exc.strerror}). "
                          "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).") from None
    family, _, proto, _, address = infos[0]
    # With the protocol given (IPPROTO_TCP), asyncio sets TCP_NODELAY on each connection; without it, an answer
    # written in two pieces (headers, body) waited about 40 ms on Nagle's algorithm and delayed acknowledgements.
    sock = socket.socket(family, socket.SOCK_STREAM, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"Port {port} on {host} is already in use. Stop what uses it, or choose another "
                              "port with --port (0 picks a free one).") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"Port {port} on {host} needs privileges this user lacks; use a port above 1023 "
                              "with --port.") from None
        raise ConfigError(f"Cannot listen on {host}:{port} ({exc.strerror or exc}).") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def _read_body(request: Any, limit: int) -> tuple[bytes, bool]:
    """The body, or (what was read, True) once it passes ``limit`` bytes: a huge upload is not read whole."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return b"", True
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False


def _json_batch(body: bytes, run: RunModel) -> pd.DataFrame:
    payload = json.loads(body)
    return records_frame(payload_records(payload), run.schema, required=run.features)


def _csv_batch(body: bytes, run: RunModel) -> Any:
    """CSV rows read exactly as `mlpilot predict` reads a file (`read_table`), through a private temp file."""
    from tools.intake import read_table

    with tempfile.TemporaryDirectory(prefix="mlpilot-serve-") as folder:
        path = Path(folder) / "rows.csv"
        path.write_bytes(body)
        table = read_table(path)
    require_columns([str(c) for c in table.frame.columns], run.schema, required=run.features)
    return table


def _description(meta: dict) -> str:
    holdout = meta["holdout"]["metrics"]
    primary = meta.get("metric")
    score = f"; holdout {primary} {holdout[primary]:.4f}" if primary in holdout else ""
    goal = meta.get("goal") or "(no goal given)"
    return (f"The model of mlpilot run `{meta['run_id']}` ({meta['task']}, target `{meta['target']}`{score}).\n\n"
            f"Goal: {goal}\n\nSend rows to `POST /predict` as JSON records or CSV; `GET /metadata` lists the "
            "input columns and their types.")


def _predict_openapi(run: RunModel, meta: dict) -> dict:
    """The request and response bodies of ``POST /predict``, from the run's input columns."""
    record = {"type": "object", "required": run.features, "properties": {
        c["name"]: {"type": [c["type"], "null"], "description": f"{c['expects']}"
                    + (f"; seen in training: {', '.join(map(str, c['levels'][:10]))}" if c.get("levels") else ""),
                    **({"format": "date-time"} if c["kind"] == "datetime" else {})}
        for c in meta["inputs"]}}
    answer = {"type": "object", "properties": {name: {"type": "number"} if name.startswith("proba_") else {}
                                               for name in meta["outputs"]}}
    return {
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"oneOf": [
                {"type": "array", "items": record},
                {"type": "object", "properties": {"records": {"type": "array", "items": record}},
                 "required": ["records"]},
                record]}},
            "text/csv": {"schema": {"type": "string", "description": "CSV with a header row naming the inputs"}}}},
        "responses": {"200": {"description": "One prediction per row, in order", "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "run_id": {"type": "string"}, "request_id": {"type": "string"}, "rows": {"type": "integer"},
                "notes": {"type": "array", "items": {"type": "string"}},
                "predictions": {"type": "array", "items": answer}}}},
            "text/csv": {"schema": {"type": "string"}}}},
            "400": {"description": "Empty body or malformed JSON"},
            "401": {"description": "Missing or wrong token"},
            "413": {"description": "Body over the size limit"},
            "415": {"description": "Not JSON or CSV"},
            "422": {"description": "A missing column or a value of the wrong type, named"}},
    }
