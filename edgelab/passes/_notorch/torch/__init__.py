"""Blocks `import torch` in edgelab's TVM child processes (put on their PYTHONPATH).

tvm_ffi imports torch whenever it is importable (3-4 s per process, once per MetaSchedule worker too);
TVM jobs never need it, and an ImportError is what tvm_ffi expects when torch is absent.
"""
raise ImportError("torch is disabled in edgelab TVM job processes")
