"""Apache TVM passes (compile, tune, cross-compile). Filled in by the TVM backend."""
