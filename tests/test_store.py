"""Results store: round trip, listing, concurrent writers and readers never lose or tear a run."""
import json
import multiprocessing as mp
import sqlite3

import pytest

import edgelab as el
from edgelab.report import Report
from edgelab.store import Store, new_run_id


def _report(i=0, model="m"):
    v = {"id": "fp32", "recipe": "fp32", "runtime": "onnxruntime", "precision": "fp32", "size_bytes": 10 + i,
         "latency_ms": {"p50": 1.0 + i, "p90": 2.0}, "accuracy": {"metric": "top1", "value": 0.9, "delta": 0.0},
         "agreement": {"top1": 1.0, "cosine": 1.0}, "peak_memory_bytes": 100, "estimates": {}, "savings": {},
         "error": None, "speedup": {"median": 1.0}}
    big = {"padding": "x" * 20000}  # a report large enough that a torn write would show
    return Report(model={"name": model, "sha256": "ab" * 32}, host={"cpu": "test", "cores": 2},
                  variants=(v,), run_id=new_run_id() + f"-{i}", created=f"2026-11-25T10:00:{i % 60:02d}Z",
                  settings=big)


def test_round_trip_and_listing(tmp_path):
    st = Store(tmp_path / "r.sqlite")
    a, b = _report(1, "alpha"), _report(2, "beta")
    st.save(a)
    st.save(b)
    runs = st.list_runs()
    assert [r["model_name"] for r in runs] == ["beta", "alpha"]  # newest first
    assert runs[0]["best"]["latency_ms"] == 3.0 and runs[0]["host"]["cpu"] == "test"
    assert st.get_report(a.run_id).to_json() == json.loads(json.dumps(a.to_json()))
    assert st.get_report(a.run_id[:-2] + "-1").run_id == a.run_id
    with pytest.raises(el.StoreError, match="no run 'nope'"):
        st.get_report("nope")
    tok = st.latest_change()
    st.save(_report(3))
    assert st.latest_change() != tok


def _writer(path, wid, n, q):
    st = Store(path)
    ids = []
    for i in range(n):
        r = _report(i, f"w{wid}")
        st.save(r)
        ids.append(r.run_id)
    q.put(ids)


def _reader(path, stop, q):
    st = Store(path)
    torn = 0
    reads = 0
    while not stop.is_set():
        for r in st.list_runs(limit=5):
            rep = st.get_report(r["id"])
            reads += 1
            if rep.settings.get("padding") != "x" * 20000:
                torn += 1
    q.put((reads, torn))


def test_four_writers_fifty_runs_each_and_a_reader(tmp_path):
    path = tmp_path / "conc.sqlite"
    ctx = mp.get_context("spawn")
    q, rq, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    reader = ctx.Process(target=_reader, args=(path, stop, rq))
    Store(path).save(_report(0, "seed"))
    reader.start()
    writers = [ctx.Process(target=_writer, args=(path, w, 50, q)) for w in range(4)]
    for p in writers:
        p.start()
    ids = [i for _ in writers for i in q.get(timeout=120)]
    for p in writers:
        p.join(timeout=60)
        assert p.exitcode == 0
    stop.set()
    reads, torn = rq.get(timeout=60)
    reader.join(timeout=30)
    st = Store(path)
    assert st.count() == 201
    for rid in ids:
        assert st.get_report(rid).variants[0]["id"] == "fp32"
    assert torn == 0 and reads > 0
    print(f"\nconcurrency: 4 writers x 50 runs, rows present {st.count() - 1}/200, reader saw {reads} reports, torn {torn}")


def test_corrupt_store_file_is_a_clear_error(tmp_path):
    p = tmp_path / "bad.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(el.StoreError, match="move it away"):
        Store(p).save(_report(1))
    assert p.read_bytes().startswith(b"this is not")  # nothing overwritten


def test_store_uses_wal(tmp_path):
    st = Store(tmp_path / "w.sqlite")
    st.save(_report(1))
    assert sqlite3.connect(st.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_from_an_older_release_is_migrated(tmp_path):
    p = tmp_path / "old.sqlite"
    con = sqlite3.connect(p)
    con.executescript("""CREATE TABLE runs (id TEXT PRIMARY KEY, created TEXT NOT NULL, model_name TEXT,
        model_sha256 TEXT, host_json TEXT, status TEXT, report_json TEXT NOT NULL);""")
    old = _report(1, "old")
    con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?)", (old.run_id, old.created, "old", "ab", "{}", "complete",
                                                           json.dumps(old.to_json())))
    con.commit()
    con.close()
    st = Store(p)
    st.save(_report(2, "new"))
    assert [r["model_name"] for r in st.list_runs()] == ["new", "old"]
