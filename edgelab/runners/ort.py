"""onnxruntime runner: load a variant into a CPU session and run it on input feeds."""
from __future__ import annotations


def load(path: str, threads: int):
    """Return (run(feeds) -> list of outputs, info dict)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    # Variants share one timing process: idle sessions' spinning threads would steal the CPU from the one
    # being timed (measured: 2-thread fp32 2.4x slower with spinning on a busy 2-core machine).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return (lambda feeds: sess.run(None, feeds)), {"runtime": "onnxruntime", "version": ort.__version__}


def unsupported_ops(path: str) -> list[str]:
    """Op types onnxruntime's CPU provider cannot run in this model ([] if it loads)."""
    import re

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    try:
        ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        return []
    except Exception as e:
        msg = str(e)
        found = re.findall(r"(?:op_type|Op type|type)[:=\s]+'?\"?([A-Za-z0-9_]+)", msg)
        return sorted(set(found)) or [msg.strip().splitlines()[0][:200]]
