"""SQLite results store in the workspace: runs, their variants and measurements.

Safe with several processes writing at once (WAL journal, busy timeout, one transaction per run),
so two notebooks on one workspace never see a torn report.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from . import workspace
from .errors import StoreError
from .report import Report

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, created TEXT NOT NULL, model_name TEXT, model_sha256 TEXT,
  host_json TEXT, status TEXT, report_json TEXT NOT NULL, measurement_key TEXT);
CREATE TABLE IF NOT EXISTS variants (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE, variant_id TEXT NOT NULL,
  recipe TEXT, runtime TEXT, precision TEXT, size_bytes INTEGER, error TEXT,
  PRIMARY KEY (run_id, variant_id));
CREATE TABLE IF NOT EXISTS measurements (
  run_id TEXT NOT NULL, variant_id TEXT NOT NULL, metric TEXT NOT NULL, value REAL, unit TEXT,
  measured_on TEXT, PRIMARY KEY (run_id, variant_id, metric));
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
"""
# columns added after the first release, with their type: older stores are migrated on open
_ADDED_COLUMNS = {"runs": {"measurement_key": "TEXT"}}


class Store:
    """The results store. `Store()` opens `<workspace>/results.sqlite`."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else workspace.home() / "results.sqlite"

    def _connect(self) -> sqlite3.Connection:
        workspace.ensure(self.path.parent)
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA busy_timeout=30000")
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            for table, cols in _ADDED_COLUMNS.items():
                have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                for col, typ in cols.items():
                    if col not in have:
                        con.execute(f"ALTER TABLE {table} ADD COLUMN {col} {typ}")
            con.execute("CREATE INDEX IF NOT EXISTS runs_key ON runs(measurement_key)")
            return con
        except sqlite3.DatabaseError as e:
            hint = ("the disk may be full or read-only: free space or set EDGELAB_HOME to a writable folder"
                    if "disk" in str(e) or "readonly" in str(e) else
                    "if the file is damaged, move it away (a new one is created)")
            raise StoreError(f"cannot open the results store {self.path}: {e}; {hint}") from e

    def save(self, report: Report) -> str:
        """Write a run and its variants in one transaction; returns the run id."""
        d = report.to_json()
        blob = json.dumps(d, default=_default)
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM variants WHERE run_id=?", (report.run_id,))
            con.execute("DELETE FROM measurements WHERE run_id=?", (report.run_id,))
            con.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?)",
                        (report.run_id, report.created, report.model.get("name"), report.model.get("sha256"),
                         json.dumps(report.host), report.status, blob, report.settings.get("measurement_key")))
            host = report.host.get("label") or report.host.get("cpu")
            for v in report.variants:
                con.execute("INSERT INTO variants VALUES (?,?,?,?,?,?,?)",
                            (report.run_id, v["id"], v.get("recipe"), v.get("runtime"), v.get("precision"),
                             v.get("size_bytes"), v.get("error")))
                for metric, value, unit in _metrics(v):
                    con.execute("INSERT OR REPLACE INTO measurements VALUES (?,?,?,?,?,?)",
                                (report.run_id, v["id"], metric, value, unit, host))
            con.execute("COMMIT")
        except sqlite3.OperationalError as e:
            _rollback(con)
            raise StoreError(f"cannot write to the results store {self.path}: {e}; check disk space "
                             "and that the workspace is writable") from e
        except BaseException:
            _rollback(con)
            raise
        finally:
            con.close()
        return report.run_id

    def list_runs(self, limit: int = 100) -> list[dict]:
        """Newest first: id, created, model, host, variant count, the best variant's headline figures."""
        if not self.path.exists():
            return []
        con = self._connect()
        try:
            rows = con.execute("SELECT id, report_json FROM runs ORDER BY created DESC, rowid DESC LIMIT ?",
                               (limit,)).fetchall()
        finally:
            con.close()
        out = []
        for rid, blob in rows:
            try:
                r = Report.from_json(json.loads(blob))
            except (ValueError, Exception):
                continue
            best = r.best()
            ref = r.reference
            out.append({
                "id": rid, "created": r.created, "model_name": r.model.get("name"),
                "model_sha256": r.model.get("sha256"), "status": r.status,
                "host": {"cpu": r.host.get("cpu"), "cores": r.host.get("cores"), "label": r.host.get("label")},
                "n_variants": len(r.variants),
                "best": None if best is None else {
                    "id": best["id"], "recipe": best.get("recipe"),
                    "latency_ms": (best.get("latency_ms") or {}).get("p50"),
                    "speedup": (best.get("speedup") or {}).get("median"),
                    "accuracy": (best.get("accuracy") or {}).get("value"),
                    "reference_latency_ms": None if ref is None else (ref.get("latency_ms") or {}).get("p50")},
            })
        return out

    def get_report(self, run_id: str) -> Report:
        con = self._connect() if self.path.exists() else None
        row = None
        if con is not None:
            try:
                row = con.execute("SELECT report_json FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None:  # allow unique prefixes, as `edgelab history` shows short ids
                    rows = con.execute("SELECT report_json FROM runs WHERE id LIKE ?",
                                       (run_id.replace("%", "") + "%",)).fetchall()
                    row = rows[0] if len(rows) == 1 else None
            finally:
                con.close()
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.path}; list runs with `edgelab history`")
        return Report.from_json(json.loads(row[0]))

    def find(self, measurement_key: str) -> Report | None:
        """The newest complete run measured with exactly these inputs and settings on this host, if any."""
        if not self.path.exists():
            return None
        con = self._connect()
        try:
            row = con.execute("SELECT report_json FROM runs WHERE measurement_key=? AND status='complete' "
                              "ORDER BY created DESC LIMIT 1", (measurement_key,)).fetchone()
        finally:
            con.close()
        return None if row is None else Report.from_json(json.loads(row[0]))

    def latest_change(self) -> str:
        """A token that changes whenever a run is written (cheap; for polling UIs)."""
        if not self.path.exists():
            return "0"
        con = self._connect()
        try:
            n, last = con.execute("SELECT count(*), max(created) FROM runs").fetchone()
        finally:
            con.close()
        return f"{n}:{last}"

    def count(self) -> int:
        if not self.path.exists():
            return 0
        con = self._connect()
        try:
            return con.execute("SELECT count(*) FROM runs").fetchone()[0]
        finally:
            con.close()


def new_run_id() -> str:
    import secrets

    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _metrics(v: dict):
    lat = v.get("latency_ms") or {}
    if lat.get("p50") is not None:
        yield "latency_p50", lat["p50"], "ms"
        yield "latency_p90", lat.get("p90"), "ms"
    if v.get("peak_memory_bytes") is not None:
        yield "peak_memory", v["peak_memory_bytes"], "bytes"
    acc = v.get("accuracy") or {}
    if acc.get("value") is not None:
        yield f"accuracy_{acc['metric']}", acc["value"], ""
    agr = v.get("agreement") or {}
    if agr.get("cosine") is not None:
        yield "agreement_cosine", agr["cosine"], ""


def _rollback(con):
    try:
        con.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o).__name__)
