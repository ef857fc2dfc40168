"""The committed SDL (``graphql_api/schema.graphql``) and the breaking-change gate against a git ref."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from graphql import build_schema as parse_sdl
from graphql import find_breaking_changes

from graphql_api.schema import sdl

SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"


@dataclass(frozen=True)
class SdlReport:
    stale: bool  # the committed file differs from the code's schema
    compared_with: str  # what the schema was compared against
    breaking: list[str]  # "TYPE: description" per breaking change


def export(path: Path = SDL_PATH) -> Path:
    path.write_text(sdl(), encoding="utf-8")
    return path


def sdl_at(ref: str, path: Path = SDL_PATH) -> str | None:
    """The SDL file as committed at ``ref``; None when it did not exist there."""
    top = Path(_git("rev-parse", "--show-toplevel", cwd=path.parent).strip())
    relative = path.resolve().relative_to(top.resolve()).as_posix()
    try:
        return _git("show", f"{ref}:{relative}", cwd=top)
    except subprocess.CalledProcessError:
        return None


def breaking_changes(old_sdl: str, new_sdl: str) -> list[str]:
    return [f"{c.type.name}: {c.description}" for c in find_breaking_changes(parse_sdl(old_sdl), parse_sdl(new_sdl))]


def check(*, ref: str | None, path: Path = SDL_PATH) -> SdlReport:
    current = sdl()
    stale = not path.exists() or path.read_text(encoding="utf-8") != current
    if ref is None:
        return SdlReport(stale=stale, compared_with="no git ref", breaking=[])
    published = sdl_at(ref, path)
    if published is None:
        return SdlReport(stale=stale, compared_with=f"{ref} (no SDL there yet)", breaking=[])
    return SdlReport(stale=stale, compared_with=ref, breaking=breaking_changes(published, current))


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout
