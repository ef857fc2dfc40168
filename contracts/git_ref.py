"""Read the registry (or any committed file) as it was at a git ref, without touching the work tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

from contracts.registry import REGISTRY_DIR, Registry, RegistryError, load_registry
from logistics.errors import LogisticsError


class GitRefError(LogisticsError, RuntimeError):
    """The ref does not exist or git is unavailable."""

    exit_code = 2


def _git(*args: str, cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise GitRefError(f"git {' '.join(args)}: {detail.strip()}") from None
    return done.stdout


def ref_exists(ref: str, *, root: Path = REGISTRY_DIR) -> bool:
    try:
        _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=root)
    except GitRefError:
        return False
    return True


def file_at(ref: str, path: Path) -> str | None:
    """``path`` as committed at ``ref``; None when that commit did not have it.

    :class:`GitRefError` when ``ref`` is not a commit of the repository holding ``path`` (or
    there is no repository): a gate asked to compare with a ref it cannot read must say so,
    never read the failure as "nothing published yet".
    """
    top = Path(_git("rev-parse", "--show-toplevel", cwd=path.parent).strip())
    if not ref_exists(ref, root=top):
        raise GitRefError(f"{ref!r} is not a commit in {top} (fetch it, or name an existing branch, tag or sha)")
    relative = path.resolve().relative_to(top.resolve()).as_posix()
    try:
        _git("cat-file", "-e", f"{ref}:{relative}", cwd=top)
    except GitRefError:
        return None
    return _git("show", f"{ref}:{relative}", cwd=top)


def default_ref(*, root: Path = REGISTRY_DIR) -> str | None:
    """``origin/main`` when it exists (CI on a pull request), else ``HEAD~1``, else nothing."""
    return next((ref for ref in ("origin/main", "HEAD~1") if ref_exists(ref, root=root)), None)


class _RefReader:
    """``read_text`` + ``list_dir`` over one commit's tree, for :func:`load_registry`."""

    def __init__(self, ref: str, root: Path) -> None:
        self._ref = ref
        top = Path(_git("rev-parse", "--show-toplevel", cwd=root).strip())
        self._prefix = root.resolve().relative_to(top.resolve())
        self._root = root
        listing = _git("ls-tree", "-r", "--name-only", ref, "--", str(self._prefix), cwd=top)
        self._files = {Path(line) for line in listing.splitlines() if line}
        self._top = top

    def _rel(self, path: Path) -> Path:
        return self._prefix / path.resolve().relative_to(self._root.resolve())

    def __call__(self, path: Path) -> str:
        rel = self._rel(path)
        if rel not in self._files:
            raise FileNotFoundError(f"{rel} does not exist at {self._ref}")
        return _git("show", f"{self._ref}:{rel.as_posix()}", cwd=self._top)

    def list_dir(self, directory: Path) -> list[Path]:
        rel = self._rel(directory)
        children = {f.relative_to(rel).parts[0] for f in self._files if rel in f.parents}
        return sorted(directory / name for name in children)


def load_registry_at(ref: str, *, root: Path = REGISTRY_DIR) -> Registry | None:
    """The registry at ``ref``, or None when that commit had no registry yet."""
    reader = _RefReader(ref, root)
    try:
        reader(root / "registry.yaml")
    except FileNotFoundError:
        return None
    try:
        return load_registry(root, read_text=reader)
    except RegistryError as exc:
        raise GitRefError(f"the registry at {ref} does not load: {exc}") from None
