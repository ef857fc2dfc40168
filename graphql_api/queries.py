"""The SQL the API reads with: one BigQuery-dialect file per read under ``graphql_api/sql/``."""

from __future__ import annotations

from pathlib import Path

from logistics.warehouse import sql_file

SQL_DIR = Path(__file__).resolve().parent / "sql"


class _Queries:
    """Attribute access to the SQL files by stem, read once; a typo fails at import, not per request."""

    def __init__(self, directory: Path) -> None:
        self._texts = {path.stem: sql_file(path) for path in sorted(directory.glob("*.sql"))}

    def __getattr__(self, name: str) -> str:
        try:
            return self._texts[name]
        except KeyError:
            raise AttributeError(f"no SQL file {name}.sql in {SQL_DIR}") from None

    def names(self) -> list[str]:
        return sorted(self._texts)

    def texts(self) -> list[str]:
        return [self._texts[name] for name in self.names()]


SQL = _Queries(SQL_DIR)
