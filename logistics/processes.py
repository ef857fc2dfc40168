"""Folders owned by a process: what a killed process leaves behind is found and removed by the next.

A run names a scratch folder after itself and its process (``<prefix><pid>-...``); a folder
whose process is gone is nobody's, and the next run on this machine removes it. A reused pid
keeps its folder: a leak, never a loss.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and another user's
        return True
    return True


def owned_name(prefix: str, name: str) -> str:
    """``<prefix><this process's pid>-<name>``: a folder name that says who owns it."""
    return f"{prefix}{os.getpid()}-{name}"


def remove_orphans(root: Path, *, prefix: str) -> list[Path]:
    """Remove the folders (or files) under ``root`` named ``<prefix><pid>-...`` whose process is gone."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.glob(f"{prefix}*-*"):
        pid = path.name.removeprefix(prefix).split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed
