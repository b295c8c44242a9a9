"""The `edgelab` command: demo, compare, inspect, passes, recipes, history (and more per subsystem).

Exit codes: 0 success, 1 a failure (one line on stderr), 2 a usage error, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from .errors import EdgelabError


def _csv(s: str | None) -> list[str]:
    return [x.strip() for x in (s or "").split(",") if x.strip()]


class _Progress:
    """Progress on stderr: one line per stage, rewritten in place on a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr  # looked up when used: tests and notebooks replace sys.stderr
        self.tty = self.stream.isatty()
        self.last = ""

    def __call__(self, e: dict):
        stage = e.get("stage")
        if stage in ("build", "evaluate"):
            msg = f"[{stage} {e['i'] + 1}/{e['n']}] {e['variant']}"
        elif stage == "latency" and "rounds" in e:
            msg = f"[latency] batch {e['batch']}: round {e['rounds']} ({e['elapsed_s']:.1f} s)"
        elif stage == "load":
            msg = f"[latency] loading {e['variant']} ({e['i'] + 1}/{e['n']})"
        elif stage == "error":
            msg = f"[error] {e.get('variant') or ''}: {e.get('message')}"
        elif stage in ("latency", "project", "tune", "compile", "remote"):
            msg = f"[{stage}] {e.get('message') or e.get('variant') or ''}"
        elif stage == "done":
            msg = f"[done] run {e['run_id']} ({e['status']})"
        else:
            return
        if not self.tty and stage == "latency" and "rounds" in e and e["rounds"] > 1:
            return  # in logs, one line per batch size is enough
        if self.tty and stage == "latency" and self.last.startswith("[latency]"):
            self.stream.write("\r\033[K" + msg)
        else:
            self.stream.write(("\n" if self.tty and self.last.startswith("[latency]") else "") + msg + ("" if self.tty and stage == "latency" else "\n"))
        self.stream.flush()
        self.last = msg


def _measure_cfg(a):
    from .runners import MeasureConfig

    kw = {}
    if getattr(a, "batch", None):
        kw["batch_sizes"] = tuple(int(b) for b in _csv(a.batch))
    if getattr(a, "threads", None):
        kw["threads"] = a.threads
    if getattr(a, "timeout", None):
        kw["timeout_s"] = a.timeout
    if getattr(a, "quick", False):
        kw.update(min_runs=30, min_time_s=0.3, max_time_s=5.0, warmup_runs=3)
    return MeasureConfig(**kw)


def _measure_opts_given(a) -> bool:
    return any(getattr(a, k, None) for k in ("batch", "threads", "timeout", "quick"))


def _write_outputs(report, json_out, html_out):
    if json_out:
        report.save_json(json_out)
        print(f"wrote {json_out}", file=sys.stderr)
    if html_out:
        report.save_html(html_out)
        print(f"wrote {html_out}", file=sys.stderr)


def run_demo_args(a, progress):
    """`edgelab demo` / `%edgelab demo` without the printing: returns the Report."""
    from .demo.run import run_demo

    return run_demo(a.model, out=Path(a.out), measure=_measure_cfg(a) if _measure_opts_given(a) else None,
                    profiles=_csv(a.profiles), progress=progress, fresh=a.fresh)


def run_compare_args(a, progress):
    """`edgelab compare` / `%edgelab compare` without the printing: returns the Report (files written)."""
    from . import compare, load
    from .data import Dataset

    model = load(a.model)
    data = Dataset.from_npz(a.data, model) if a.data else None
    recipes = _recipes_arg(a.recipes)
    kw = {"recipes": recipes} if recipes else {}
    report = compare(model, data=data, profiles=_csv(a.profiles), measure=_measure_cfg(a),
                     workload=_workload(a), progress=progress, devices=_csv(getattr(a, "devices", None)), **kw)
    _write_outputs(report, a.json, a.html)
    return report


def cmd_demo(a) -> int:
    report = run_demo_args(a, _Progress())
    print(report.table())
    print(f"wrote {Path(a.out) / 'report.json'} and {Path(a.out) / 'report.html'}", file=sys.stderr)
    return 130 if report.status == "interrupted" else 0


def cmd_compare(a) -> int:
    report = run_compare_args(a, _Progress())
    print(report.table())
    return 130 if report.status == "interrupted" else 0


def _recipes_arg(value: str | None):
    """`--recipes a,b` (named recipes) or `--recipes FILE.json` (a recipe dict or a list of them)."""
    if value and value.endswith(".json"):
        from .errors import ConfigError
        from .variant import Recipe

        try:
            d = json.loads(Path(value).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read recipe file {value}: {e}") from e
        return [Recipe.from_dict(r) for r in (d if isinstance(d, list) else [d])]
    return _csv(value) or None


def _workload(a):
    if getattr(a, "requests_per_day", None) is None:
        return None
    from .savings import Workload

    return Workload(requests_per_day=a.requests_per_day)


def cmd_inspect(a) -> int:
    from .inspect import inspect_model

    info = inspect_model(a.model, profiles=_csv(a.profiles))
    if a.json:
        print(json.dumps(info, indent=1, default=str))
        return 0
    from .inspect import format_inspect

    print(format_inspect(info))
    return 0


def cmd_profiles(a) -> int:
    from .profiles import get, list_profiles

    if a.name:
        p = get(a.name)
        d = dict(p.to_dict(), summary=p.summary())
        if a.json:
            print(json.dumps(d, indent=1, default=str))
            return 0
        s = p.summary()
        print(f"{p.id}: {p.name} [{p.kind}, {p.device_class}]")
        for prec in ("fp32", "fp16", "int8"):
            sup = p.support(prec)
            print(f"  {prec:5s} {sup:11s}" + (f" peak {p.peak_text(prec)}" if sup != "unsupported" else ""))
        print(f"  memory bandwidth {p.mem_bandwidth_gbs} GB/s, RAM {p.ram_bytes / 2**20:,.1f} MiB"
              + (f", storage {p.storage_bytes / 2**20:,.1f} MiB" if p.storage_bytes else "")
              + f", power {p.power_w} W, price {'owned by users' if p.owned else p.price_usd}")
        print(f"  TVM target: {json.dumps(p.tvm_target) if p.tvm_target else 'none'}")
        v = s["validation"]
        print("  projection error on published measurements: "
              + (f"median {v['median']}x, 80th pct {v['p80']}x over {v['n']} rows" if v else "no published rows"))
        if p.reference:
            from .profiles.reference import device_factor

            df = device_factor(p)
            print(f"  device factor x{df['factor']:g} (spread x{df['spread']:g}): published / projected "
                  f"{df['model']} on {df['device']}, calibrated on this host:")
            for r in df["rows"]:
                print(f"    {r['precision']} {r['threads']} thread(s): published {r['published_ms']:g} ms, projected "
                      f"{r['projected_ms']:g} ms ({r['source_url']})")
        print("  sources:")
        for k, src in p.sources.items():
            print(f"    {k}: " + "; ".join(f"{kk} {vv}" for kk, vv in src.items()))
        return 0
    rows = [get(n).summary() for n in list_profiles()]
    if a.json:
        print(json.dumps(rows, indent=1, default=str))
        return 0
    for r in rows:
        pk = r["peak_gops"]
        print(f"{r['id']:22s} {r['name'][:44]:44s} {r['kind']:10s} fp32 {pk.get('fp32', '-'):>8} int8 "
              f"{pk.get('int8', '-'):>8} GOPS  RAM {r['ram_bytes'] / 2**20:10,.1f} MiB")
    return 0


def cmd_estimate(a) -> int:
    from . import load
    from .estimate import estimate_report

    report = estimate_report(load(a.model), _csv(a.profiles), recipes=_csv(a.recipes) or None,
                             measure=_measure_cfg(a), workload=_workload(a), progress=_Progress())
    if a.json:
        report.save_json(a.json) if a.json != "-" else print(json.dumps(report.to_json(), indent=1, default=str))
    else:
        print(report.table())
    return 0


def cmd_passes(a) -> int:
    from .passes import all_passes

    ps = all_passes()
    if a.json:
        print(json.dumps([{"name": p.name, "backend": p.backend, "precision": p.precision,
                           "needs_calibration": p.needs_calibration, "produces": p.produces,
                           "description": p.description, "options": p.options()} for p in ps.values()],
                         indent=1, default=str))
        return 0
    for p in ps.values():
        print(f"{p.name}  [{p.backend}, {p.precision}{', needs calibration data' if p.needs_calibration else ''}]")
        print(f"    {p.description}")
        for o in p.options():
            ch = f" one of {o['choices']}" if o["choices"] else ""
            print(f"    --{o['name']} ({o['type']}, default {o['default']!r}){ch}  {o['help']}")
    return 0


def cmd_recipes(a) -> int:
    from .variant import recipes

    rs = recipes()
    if a.json:
        print(json.dumps([r.to_dict() for r in rs.values()], indent=1, default=str))
        return 0
    for r in rs.values():
        steps = " → ".join(f"{n}({', '.join(f'{k}={v}' for k, v in o)})" for n, o in r.steps) or "(no pass)"
        print(f"{r.name:24s} {steps}\n{'':24s} {r.description}")
    return 0


def cmd_export(a) -> int:
    from .export import export

    out = export(a.model, a.recipe, profile=a.profile, out=a.out, progress=lambda m: print(f"[build] {m}",
                                                                                           file=sys.stderr))
    print(f"wrote {out} (manifest.json, run.py and the artifact)")
    return 0


def cmd_device(a) -> int:
    from .runners.remote import serve

    serve(a.tracker, a.key, host=a.host, port=a.port)
    return 0


def cmd_history(a) -> int:
    from .store import Store

    st = Store()
    if a.run:
        report = st.get_report(a.run)
        print(report.table())
        _write_outputs(report, a.json, a.html)
        return 0
    runs = st.list_runs(limit=a.limit)
    if a.json_list:
        print(json.dumps(runs, indent=1))
        return 0
    if not runs:
        print(f"no runs yet in {st.path}")
        return 0
    for r in runs:
        b = r["best"] or {}
        best = (f"best {b.get('id')} {b.get('latency_ms')} ms ({b.get('speedup')}x)" if b else "no valid variant")
        print(f"{r['id']}  {r['created']}  {r['model_name']}  {r['n_variants']} variants  {r['status']}  "
              f"{best}  on {r['host'].get('cpu')}")
    return 0


def cmd_explain(a) -> int:
    from .data import Dataset
    from .model import load
    from .report import Report

    report = Report.from_json(a.report)
    data = Dataset.from_npz(a.data, load(report.model["path"])) if a.data and report.model.get("path") else None
    ex = report.explain(a.variant, data=data, calibration=data, k=a.k, layers=not a.no_layers,
                        mixed=not a.no_mixed)
    print(ex.text())
    if a.json:
        Path(a.json).write_text(json.dumps(ex.to_dict(), indent=1, default=str))
        print(f"wrote {a.json}", file=sys.stderr)
    if a.html:
        report.save_html(a.html)
        print(f"wrote {a.html}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgelab", description="Edge-ML workbench: optimize, measure, compare.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def measure_opts(sp):
        sp.add_argument("--batch", help="batch sizes to time, e.g. 1,32 (default 1,32)")
        sp.add_argument("--threads", type=int, help="intra-op threads (default: the machine's cores)")
        sp.add_argument("--timeout", type=float, help="seconds per worker before it is killed (default 300)")
        sp.add_argument("--quick", action="store_true", help="fewer timed runs (noisier)")
        sp.add_argument("--profiles", help="target profiles to project onto, e.g. rpi4,rpi5,n100")
        sp.add_argument("--requests-per-day", type=float, help="workload for the savings model")

    sp = sub.add_parser("demo", help="run the bundled demo end to end")
    sp.add_argument("--model", default="digits", choices=["digits", "minilm"])
    sp.add_argument("--out", default="edgelab-demo", help="folder for report.json and report.html")
    sp.add_argument("--fresh", action="store_true", help="measure again even if this host has measured the same demo")
    measure_opts(sp)
    sp.set_defaults(fn=cmd_demo)

    sp = sub.add_parser("compare", help="compare recipes of a model")
    sp.add_argument("model")
    sp.add_argument("--data", help=".npz with one array per input (or x) and optional y labels")
    sp.add_argument("--recipes", help="comma-separated recipe names (see `edgelab recipes`), or a .json file "
                    'of recipes like {"name": "mine", "steps": [{"pass": "int8-static", "options": {...}}]}')
    sp.add_argument("--json", help="write the report JSON here")
    sp.add_argument("--html", help="write the self-contained HTML report here")
    sp.add_argument("--devices", help="fleet devices to measure on too, HOST:PORT/key[@profile],... (TVM RPC; "
                    "a tvm-tune recipe is tuned on each device it is measured on)")
    measure_opts(sp)
    sp.set_defaults(fn=cmd_compare)

    sp = sub.add_parser("inspect", help="model facts and operator support per runtime")
    sp.add_argument("model")
    sp.add_argument("--profiles")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_inspect)

    sp = sub.add_parser("profiles", help="target device profiles; `profiles show NAME` prints one with sources")
    sp.add_argument("show", nargs="?", choices=["show"], help=argparse.SUPPRESS)
    sp.add_argument("name", nargs="?")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_profiles)

    sp = sub.add_parser("estimate", help="projected latency and memory fit on target profiles (Report JSON)")
    sp.add_argument("model")
    sp.add_argument("--profiles", required=True, help="e.g. rpi4,rpi5,n100")
    sp.add_argument("--recipes", help="comma-separated recipes (default fp32)")
    sp.add_argument("--requests-per-day", type=float, help="workload for the savings model")
    sp.add_argument("--json", nargs="?", const="-", help="write the Report JSON to this file (or stdout)")
    sp.add_argument("--quick", action="store_true")
    sp.set_defaults(fn=cmd_estimate)

    sp = sub.add_parser("passes", help="registered passes and their options")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_passes)

    sp = sub.add_parser("recipes", help="named recipes")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_recipes)

    sp = sub.add_parser("history", help="past runs in the workspace; give a run id to reopen one")
    sp.add_argument("run", nargs="?")
    sp.add_argument("--limit", type=int, default=20)
    sp.add_argument("--json", help="(with a run id) write its report JSON here")
    sp.add_argument("--html", help="(with a run id) write its HTML report here")
    sp.add_argument("--json-list", action="store_true", help="print the run list as JSON")
    sp.set_defaults(fn=cmd_history)

    sp = sub.add_parser("explain", help="why a variant of a report is (not) faster, which layers cost accuracy")
    sp.add_argument("report", help="report JSON written by compare/demo")
    sp.add_argument("variant", help="variant id in that report")
    sp.add_argument("--data", help=".npz used for the report (inputs for profiling, layer errors, calibration)")
    sp.add_argument("--k", type=int, default=2, help="worst layers kept in fp32 in the mixed-precision variant")
    sp.add_argument("--no-layers", action="store_true", help="speed only: skip per-layer errors")
    sp.add_argument("--no-mixed", action="store_true", help="do not build/measure the mixed-precision variant")
    sp.add_argument("--json", help="write the explanation JSON here")
    sp.add_argument("--html", help="write the HTML report, now with the explanation, here")
    sp.set_defaults(fn=cmd_explain)

    sp = sub.add_parser("export", help="a deployable artifact folder (library/model, manifest, run script)")
    sp.add_argument("model")
    sp.add_argument("--recipe", default="tvm", help="recipe to build (default tvm)")
    sp.add_argument("--profile", default="host", help="target device profile, e.g. rpi4, rpi5, armv7 (default host)")
    sp.add_argument("--out", required=True, help="folder to write")
    sp.set_defaults(fn=cmd_export)

    sp = sub.add_parser("device", help="join a fleet of devices measured over TVM RPC")
    dsub = sp.add_subparsers(dest="device_cmd", required=True)
    ds = dsub.add_parser("serve", help="run a TVM RPC server (plus edgelab's onnxruntime timing) on this device")
    ds.add_argument("--tracker", required=True, help="tracker address HOST:PORT")
    ds.add_argument("--key", required=True, help="device key, e.g. rpi5")
    ds.add_argument("--host", default="0.0.0.0", help="address to listen on (default all)")
    ds.add_argument("--port", type=int, default=9090, help="first port to try (default 9090)")
    ds.set_defaults(fn=cmd_device)
    return p


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        return a.fn(a)
    except EdgelabError as e:
        print(f"edgelab: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edgelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
