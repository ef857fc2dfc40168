"""The streaming ETL: sources -> normalize -> validate -> dedupe -> sinks (bronze, silver, DLQ).

Public API: :func:`pipeline.run.run_pipeline` and the transforms under ``pipeline.transforms``.
"""

from logistics.native import use_compiled_modules

use_compiled_modules()  # before any compiled module is imported: logistics.native says why
