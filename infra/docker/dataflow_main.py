"""Flex Template entry point (``FLEX_TEMPLATE_PYTHON_PY_FILE``): submit a pipeline to Dataflow.

One image, two templates (``infra/scripts/deploy_dataflow.sh`` builds both specs from it):

- ``--mode streaming``: the unbounded pipeline (Pub/Sub, and Kafka through the bridge), the
  long-running job ``logistics-streaming``;
- ``--mode batch --input gs://...``: the bounded pipeline over files (backfills, replays), a job
  per launch, which ends with its own load.

The template launcher calls this file with the template parameters followed by the job options
it computed (``--project``, ``--region``, ``--temp_location``, ``--update``, ...). Settings come
from ``LOGISTICS_ENV`` (``--env``), so the job sees the same datasets, topics and buckets as
every other component of that environment; the workers' autoscaling comes from
``pipeline.autoscaling`` / ``num_workers`` / ``max_workers`` in that environment's config unless
the launcher passed its own, and the workers run this very image (``DATAFLOW_SDK_CONTAINER_IMAGE``,
baked in at build time) unless the launcher named another. The launcher only submits: it never
waits for the job.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping


def given_options(job_options: list[str]) -> set[str]:
    """The names of the options the launcher passed (``--max-num-workers=3`` -> ``max_num_workers``)."""
    return {option.split("=", 1)[0].lstrip("-").replace("-", "_") for option in job_options}


def scaling_options(settings: object, job_options: list[str]) -> list[str]:
    """Dataflow's worker options from ``pipeline.*`` config, unless the launcher set them itself."""
    from logistics.settings import Settings

    assert isinstance(settings, Settings)
    flow = settings.pipeline
    given = given_options(job_options)
    wanted = {
        "autoscaling_algorithm": "THROUGHPUT_BASED" if flow.autoscaling else "NONE",
        "num_workers": flow.num_workers,
        "max_num_workers": flow.max_workers,
    }
    return [f"--{name}={value}" for name, value in wanted.items() if value is not None and name not in given]


def worker_image_options(job_options: list[str], environ: Mapping[str, str]) -> list[str]:
    """``--sdk_container_image`` = the image this file runs in (its build wrote its own name into
    ``DATAFLOW_SDK_CONTAINER_IMAGE``), unless the launcher passed one."""
    image = environ.get("DATAFLOW_SDK_CONTAINER_IMAGE")
    if not image or given_options(job_options) & {"sdk_container_image", "worker_harness_container_image"}:
        return []
    return [f"--sdk_container_image={image}"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", choices=["dev", "prod"], required=True, help="Which config/{env}.yaml to load.")
    parser.add_argument("--mode", choices=["streaming", "batch"], default="streaming")
    parser.add_argument("--input", help="batch: gs:// glob of the JSON-lines input to process.")
    known, job_options = parser.parse_known_args(argv)
    if known.mode == "batch" and not known.input:
        parser.error("--mode batch needs --input gs://...")
    # Settings are read at first use, so the environment must be chosen before the import.
    os.environ["LOGISTICS_ENV"] = known.env

    from logistics.settings import get_settings

    settings = get_settings()
    options = [*job_options, *scaling_options(settings, job_options), *worker_image_options(job_options, os.environ)]
    if known.mode == "streaming":
        from pipeline.unbounded import start_unbounded

        start_unbounded(settings=settings, pipeline_args=options)
        return 0
    from pipeline.run import new_run_id, submit_pipeline

    submit_pipeline(settings=settings, input_pattern=known.input, run_id=new_run_id(), pipeline_args=options)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
