"""Errors raised by edgelab: one root, specific subclasses, messages that say what to do."""


class EdgelabError(Exception):
    """Root of every error edgelab raises on purpose."""


class ModelLoadError(EdgelabError, ValueError):
    """The model file is missing, unreadable, corrupt or not a valid ONNX graph."""


class DataError(EdgelabError, ValueError):
    """Input data does not match the model (names, shapes, dtypes, labels)."""


class ConfigError(EdgelabError, ValueError):
    """A recipe, pass, profile, workload or option is unknown or has a bad value."""


class PassError(EdgelabError):
    """An optimization pass failed while building a variant."""


class RuntimeBackendError(EdgelabError):
    """A runtime (onnxruntime, TVM) could not load or run a variant."""


class WorkerError(EdgelabError):
    """The isolated worker process crashed, hung (timeout) or ran out of memory."""


class StoreError(EdgelabError):
    """The results store or workspace cannot be read or written."""


class MissingDependencyError(EdgelabError, ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


def missing(package: str, extra: str) -> MissingDependencyError:
    """Build the error for a missing optional package, naming the extra that installs it."""
    return MissingDependencyError(
        f"{package} is not installed; install it with: pip install 'edgelab[{extra}]'"
    )
