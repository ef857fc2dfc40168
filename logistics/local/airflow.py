"""Real Airflow on SQLite in this process: the embedded stand-in for Cloud Composer.

Airflow reads its configuration when it is first imported, so :func:`airflow_environment`
must be applied to ``os.environ`` before anything imports ``airflow``. Running DAGs in
one process with ``dag.test()`` pays Airflow's start-up once (~10 s), then ~0.5 s a run
(docs/local-components.md), where ``airflow dags test`` pays it per run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logistics.settings import PROJECT_ROOT

DAGS_FOLDER = PROJECT_ROOT / "dags"


def airflow_environment(home: Path) -> dict[str, str]:
    """The variables that put Airflow's home, SQLite database and DAG folder under ``home``."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
    }


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    state: str  # the run's: success / failed
    task_states: dict[str, str]

    @property
    def succeeded(self) -> bool:
        return self.state == "success"


def load_dags(*, reset: bool = False) -> dict[str, Any]:
    """Migrate the metadata DB (or reset it), parse the DAG folder and serialize every DAG into it.

    Raises on any DAG import error: a DAG that does not parse must never be skipped quietly.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils import db

    if reset:
        db.resetdb()
    else:
        db.upgradedb()  # a no-op once the database is current: the second demo skips it
    manager = DagBundlesManager()  # type: ignore[no-untyped-call]
    manager.sync_bundles_to_db()
    bundle = manager.get_bundle("dags-folder")
    bundle.initialize()
    bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
    if bag.import_errors:
        raise RuntimeError(f"DAGs failed to import: {bag.import_errors}")
    sync_bag_to_db(bag, bundle.name, bundle.version)
    return dict(bag.dags)


def run_dag(
    dag: Any, *, logical_date: dt.datetime, conf: dict[str, Any] | None = None, mark_success: str | None = None
) -> DagRunResult:
    """One ``dag.test()`` run: every task executes here, under the real scheduler logic
    (tasks matching the ``mark_success`` pattern are marked successful without running)."""
    run = dag.test(logical_date=logical_date, run_conf=conf, mark_success_pattern=mark_success)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return DagRunResult(dag_id=dag.dag_id, state=str(run.state), task_states=states)
