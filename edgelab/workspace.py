"""Where edgelab keeps its state: ./.edgelab/ (or $EDGELAB_HOME) with results.sqlite and cache/.

Everything written here goes through :func:`atomic_dir` or :func:`atomic_write`, so an
interrupted run never leaves a half-written cache entry behind.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import StoreError


def home() -> Path:
    """The workspace folder: $EDGELAB_HOME if set, else ./.edgelab next to the notebook/cwd."""
    return Path(os.environ.get("EDGELAB_HOME") or Path.cwd() / ".edgelab").absolute()


def cache_dir(*parts: str) -> Path:
    """A folder under the workspace cache (not created)."""
    return home().joinpath("cache", *parts)


def ensure(path: Path) -> Path:
    """Create a folder, turning permission/disk errors into a clear StoreError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(
            f"cannot create workspace folder {path}: {e.strerror}; "
            "set EDGELAB_HOME to a writable folder"
        ) from e
    return path


@contextlib.contextmanager
def atomic_dir(final: Path):
    """Yield a temporary folder that becomes `final` only if the block finishes.

    If `final` already exists (another process built it first) the new copy is discarded.
    """
    ensure(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write a file via a temporary file + rename (never leaves a torn file)."""
    ensure(path.parent)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StoreError(f"cannot write {path}: {e.strerror}; check free disk space and permissions") from e
    return path


def disk_error(e: OSError, what: str) -> StoreError:
    """A StoreError that says what could not be written and what to do (full disk, read-only, quota)."""
    import errno

    hint = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file is too large for this disk or limit",
            errno.EDQUOT: "the disk quota is exceeded", errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied"}.get(e.errno, e.strerror or str(e))
    return StoreError(f"cannot write {what}: {hint}; free disk space or point EDGELAB_HOME (and TMPDIR) at a "
                      "writable folder — finished results are kept")


def sweep_stale_tmp(root: Path | None = None, *, older_than_s: float = 3600) -> int:
    """Remove leftovers of interrupted builds (.tmp-* older than `older_than_s`); returns how many."""
    import time

    root = root or cache_dir()
    n = 0
    if root.exists():
        for p in list(root.glob(".tmp-*")) + list(root.glob("*/.tmp-*")):
            try:
                if time.time() - p.stat().st_mtime < older_than_s:
                    continue  # maybe another process's build in progress
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                n += 1
            except OSError:  # removed by another process meanwhile
                continue
    return n
