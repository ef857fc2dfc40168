"""GX's query-based expectation, reporting the rows it found as a sample at any result format.

``UnexpectedRowsExpectation`` (GX 1.x) fails when its query returns rows, but keeps those rows
only in a COMPLETE result, and Data Docs do not show them. The gate validates with SUMMARY (a
COMPLETE column expectation would fetch every failing value of a partition), so this subclass
reports the first :data:`SAMPLE_ROWS` rows GX already fetched (GX fetches at most 200) and
renders them as the unexpected table of its Data Docs entry: the failing rows' keys and values.
Suites name it ``expect_no_unexpected_rows``; its arguments are GX's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation
from great_expectations.render.components import (
    CollapseContent,
    LegacyDiagnosticRendererType,
    RenderedTableContent,
)
from great_expectations.render.renderer.renderer import renderer

if TYPE_CHECKING:
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.execution_engine.execution_engine import ExecutionEngine
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

SAMPLE_ROWS = 20


class ExpectNoUnexpectedRows(UnexpectedRowsExpectation):
    """Fail when ``unexpected_rows_query`` returns any row; report how many, and a sample of them."""

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: ExecutionEngine | None = None,
    ) -> dict[str, Any]:
        rows = list(metrics["unexpected_rows_query.table"] or [])
        count = int(metrics["unexpected_rows_query.row_count"])
        return {
            "success": count == 0,
            "result": {
                "observed_value": count,  # GX's own key for this expectation's row count
                "details": {"unexpected_rows": rows[:SAMPLE_ROWS]},
            },
        }

    @classmethod
    @renderer(renderer_type=LegacyDiagnosticRendererType.UNEXPECTED_TABLE)
    def _diagnostic_unexpected_table_renderer(
        cls,
        configuration: ExpectationConfiguration | None = None,
        result: ExpectationValidationResult | None = None,
        runtime_configuration: dict[str, Any] | None = None,
    ) -> list[RenderedTableContent | CollapseContent] | None:
        rows = ((result.result or {}).get("details") or {}).get("unexpected_rows") if result else None
        if not rows:
            return None
        header = list(rows[0])
        total = (result.result or {}).get("observed_value", len(rows)) if result else len(rows)
        title = f"Sample of unexpected rows ({len(rows)} of {total})"
        return [
            RenderedTableContent(
                content_block_type="table",
                header={"content_block_type": "string_template", "string_template": {"template": title}},
                table=[["null" if row.get(c) is None else str(row.get(c)) for c in header] for row in rows],
                header_row=header,
                styling={"body": {"classes": ["table-bordered", "table-sm", "mt-3"]}},
            )
        ]
