"""`%edgelab` line magics: the CLI's subcommands inside a notebook, returning Python objects.

    %load_ext edgelab
    %edgelab demo --quick                                  # → Report (displayed as a table)
    report = %edgelab compare model.onnx --recipes fp32,int8-static --profiles rpi4,rpi5
    %edgelab inspect model.onnx                            # → dict of facts (printed like the CLI)
    %edgelab profiles                                      # → the profile catalog
    %edgelab view model.onnx                               # → Netron inline
    %edgelab workbench [model.onnx]                        # → the interactive Workbench widget

Arguments are parsed by `edgelab.cli.build_parser()`; a usage error prints the usage line (no
traceback), an EdgelabError prints one line.
"""
from __future__ import annotations

import argparse
import shlex
import sys

from .errors import EdgelabError


class _Printed(dict):
    """A dict that IPython shows as the CLI's text."""

    def __init__(self, data: dict, text: str):
        super().__init__(data)
        self.text = text

    def _repr_pretty_(self, p, cycle):
        p.text(self.text)


def parser() -> argparse.ArgumentParser:
    """The CLI's parser plus the notebook-only subcommands `view` and `workbench`."""
    from .cli import build_parser

    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    if "view" not in sub.choices:
        sp = sub.add_parser("view", help="show a model's graph inline (Netron)")
        sp.add_argument("model")
        sp.add_argument("--height", type=int, default=600)
    if "workbench" not in sub.choices:
        sp = sub.add_parser("workbench", help="the interactive workbench widget")
        sp.add_argument("model", nargs="?")
        sp.add_argument("--recipes", help="recipes ticked at start, e.g. fp32,int8-static")
        sp.add_argument("--profiles", help="profiles ticked at start, e.g. rpi4,rpi5")
        sp.add_argument("--quick", action="store_true", help="fewer timed runs (noisier)")
    if "profiles" not in sub.choices:
        sp = sub.add_parser("profiles", help="target device profiles")
        sp.add_argument("--json", action="store_true")
    p.prog = "%edgelab"
    for sp in sub.choices.values():
        sp.prog = sp.prog.replace("edgelab", "%edgelab", 1)
    return p


def edgelab_magic(line: str):
    """%edgelab SUBCOMMAND [options] — see `%edgelab --help`."""
    try:
        argv = shlex.split(line)
    except ValueError as e:
        print(f"%edgelab: {e}", file=sys.stderr)
        return None
    try:
        a = parser().parse_args(argv)
    except SystemExit:  # argparse already printed the usage line (or the help)
        return None
    try:
        return _run(a)
    except EdgelabError as e:
        print(f"edgelab: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
    except KeyboardInterrupt:
        print("edgelab: interrupted", file=sys.stderr)
    return None


def _progress():
    """A progress bar in the notebook (text lines where ipywidgets cannot display)."""
    try:
        from .widgets.progress import ProgressBar

        return ProgressBar()
    except ImportError:
        from . import cli

        return cli._Progress(sys.stdout)


def _run(a):
    from . import cli

    if a.cmd == "demo":
        return cli.run_demo_args(a, _progress())
    if a.cmd == "compare":
        return cli.run_compare_args(a, _progress())
    if a.cmd == "inspect":
        from .inspect import format_inspect, inspect_model

        info = inspect_model(a.model, profiles=cli._csv(a.profiles))
        return info if a.json else _Printed(info, format_inspect(info))
    if a.cmd == "profiles":
        from .widgets._savings import profile_catalog

        cat = profile_catalog()
        if not cat:
            from .errors import ConfigError

            raise ConfigError("no profile catalog installed in this edgelab (edgelab.profiles.list_profiles)")
        return cat
    if a.cmd == "passes":
        from .passes import all_passes

        return all_passes()
    if a.cmd == "recipes":
        from .variant import recipes

        return recipes()
    if a.cmd == "history":
        from .store import Store

        st = Store()
        return st.get_report(a.run) if a.run else st.list_runs(limit=a.limit)
    if a.cmd == "view":
        from .viewer import view

        return view(a.model, height=a.height)
    if a.cmd == "workbench":
        from .widgets import Workbench

        measure = cli._measure_cfg(a) if a.quick else None
        return Workbench(a.model, recipes=cli._csv(a.recipes) or None, profiles=cli._csv(a.profiles),
                         measure=measure)
    a.fn(a)  # subcommands added later by others: run them as the CLI does (they print)
    return None


def load_ipython_extension(ipython) -> None:
    """`%load_ext edgelab`: registers the `%edgelab` line magic."""
    ipython.register_magic_function(edgelab_magic, magic_kind="line", magic_name="edgelab")
