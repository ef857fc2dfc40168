"""Flex Template entry point (``FLEX_TEMPLATE_PYTHON_PY_FILE``): submit the pipeline to Dataflow.

The template launcher calls this file with the template parameters (``--input=...``) followed by
the job options it computed (``--project``, ``--region``, ``--temp_location``, ...). Settings come
from ``LOGISTICS_ENV`` (set by ``deploy_dataflow.sh`` through ``--parameters env=...``), so the job
sees the same datasets, topics and bronze bucket as every other component of that environment.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", choices=["dev", "prod"], required=True, help="Which config/{env}.yaml to load.")
    parser.add_argument("--input", required=True, help="gs:// glob of the JSON-lines input to process.")
    known, job_options = parser.parse_known_args(argv)
    # Settings are read at first use, so the environment must be chosen before the import.
    os.environ["LOGISTICS_ENV"] = known.env

    from logistics.settings import get_settings
    from pipeline.run import run_pipeline

    ledger = run_pipeline(settings=get_settings(), input_pattern=known.input, pipeline_args=job_options)
    return 0 if ledger.balanced else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
