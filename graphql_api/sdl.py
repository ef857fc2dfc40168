"""The committed SDL (``graphql_api/schema.graphql``) and the schema-change gate against a git ref."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contracts.git_ref import file_at
from graphql_api.schema import sdl
from graphql_api.schema_changes import SchemaChange, schema_changes

SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"


@dataclass(frozen=True)
class SdlReport:
    stale: bool  # the committed file differs from the code's schema
    compared_with: str  # what the schema was compared against
    changes: list[SchemaChange]  # breaking first, then dangerous

    @property
    def breaking(self) -> list[SchemaChange]:
        return [c for c in self.changes if c.level == "breaking"]

    @property
    def dangerous(self) -> list[SchemaChange]:
        return [c for c in self.changes if c.level == "dangerous"]


def export(path: Path = SDL_PATH) -> Path:
    path.write_text(sdl(), encoding="utf-8")
    return path


def breaking_changes(old_sdl: str, new_sdl: str) -> list[str]:
    return [str(c) for c in schema_changes(old_sdl, new_sdl) if c.level == "breaking"]


def check(*, ref: str | None, path: Path = SDL_PATH) -> SdlReport:
    """The code's schema against the SDL committed at ``ref`` (:class:`~contracts.git_ref.GitRefError`
    when ``ref`` cannot be read), and whether the committed file is current."""
    current = sdl()
    stale = not path.exists() or path.read_text(encoding="utf-8") != current
    if ref is None:
        return SdlReport(stale=stale, compared_with="no git ref", changes=[])
    published = file_at(ref, path)
    if published is None:
        return SdlReport(stale=stale, compared_with=f"{ref} (no SDL there yet)", changes=[])
    return SdlReport(stale=stale, compared_with=ref, changes=schema_changes(published, current))
