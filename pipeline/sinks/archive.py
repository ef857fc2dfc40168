"""Hour folders that never hold an id twice: bronze and the alert files are written once per event.

Bronze (``events/yyyy/mm/dd/hh/``) and the alerts (``alerts/yyyy/mm/dd/hh/``) are archives a
rerun, a redelivered micro-batch, a restarted stream or a replay writes to again. Before a
writer adds a file to an hour, it reads the ids that hour's other files already hold and leaves
those events out: bronze stays one copy per event_id and event hour (what a rebuild of silver
reads), and an alert is written, and so published, once per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from apache_beam.io.filesystems import FileSystems

IdsOf = Callable[[str], Iterable[str]]


def hour_folder(root: str, hour: dt.datetime) -> str:
    return f"{root.rstrip('/')}/{hour:%Y/%m/%d/%H}"


def archived_ids(root: str, hour: dt.datetime, *, ids_of: IdsOf, except_prefix: str | None = None) -> set[str]:
    """The ids the hour's files already hold (``except_prefix``: the writer's own files, which a
    retried writer rewrites)."""
    ids: set[str] = set()
    for match in FileSystems.match([f"{hour_folder(root, hour)}/*"])[0].metadata_list:
        own = except_prefix is not None and match.path.startswith(except_prefix)
        if not own and match.size_in_bytes > 0:
            ids.update(ids_of(match.path))
    return ids
