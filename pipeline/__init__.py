"""The streaming ETL: sources -> normalize -> validate -> dedupe -> sinks (bronze, silver, DLQ).

Public API: :func:`pipeline.run.run_pipeline` and the transforms under ``pipeline.transforms``.
"""
