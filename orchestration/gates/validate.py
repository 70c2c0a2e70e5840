"""Running a suite on a DuckDB table with the GX 1.x API, and reading the result.

GX validates the table where it is, through its SQL engine on the caller's own DuckDB
connection (`gx_duckdb`, which keeps the workarounds GX 1.24 needs): no pandas copy, and
the expectations run as DuckDB queries. One ephemeral GX context per process holds the
suites; each gate run is a checkpoint whose Data Docs action renders static HTML under
the docs folder.

Every expectation of the suites runs in SQL. GX reports at most a few failing row
numbers itself; all of them come from the SQL it gives for the failing rows
(`unexpected_index_query`), run in DuckDB. One exception: for
`expect_compound_columns_to_be_unique` GX 1.24's query cross-joins the table and leaves
a bind parameter unfilled, so those rows are selected by `_duplicate_rows_sql`, the same
rule as GX's count (a row with a null key value is never a duplicate, in SQL).
"""

from __future__ import annotations

import copy
import dataclasses
import html
import logging
import math
import re
import time
from dataclasses import dataclass, field
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import duckdb

from orchestration.gates.gx_duckdb import DATASOURCE, add_datasource, bound_to
from orchestration.gates.suites import Suite

ROW_ID = "_row_number"
SAMPLE_SIZE = 5
PART_ROWS = 1_000_000  # rows of a delivery validated at once: keeps one gate table, and its failing values, bounded
DOCS_SITE = "quality_gates"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on one batch."""

    reason: str
    expectation: str
    columns: tuple[str, ...]
    severity: str  # error | warn
    success: bool  # GX's verdict: every value met the expectation
    blocks: bool  # the governed verdict: an error expectation failed beyond the tolerance
    unexpected_count: int
    unexpected_percent: float
    sample: tuple[str, ...]
    row_numbers: tuple[int, ...] = ()
    message: str = ""
    error: str | None = None  # GX could not evaluate it: counts as failed, never as passed

    def describe(self) -> str:
        verdict = "passed" if self.success else ("failed" if self.blocks else "held rows" if self.severity == "error" else "warned")
        detail = f"{self.unexpected_count} rows ({self.unexpected_percent:.2f}%)"
        if self.sample:
            detail += ", e.g. " + ", ".join(self.sample)
        if self.error:
            detail = f"could not be evaluated: {self.error}"
        return f"{verdict}: {self.expectation}({', '.join(self.columns)}) [{self.reason}] {detail}"


@dataclass(frozen=True)
class GateResult:
    suite: str
    suite_version: str
    rows: int
    outcomes: tuple[ExpectationOutcome, ...]
    docs_path: Path | None = None
    seconds: float = 0.0  # wall time of the validation
    validation_ids: tuple = ()  # GX's identifiers of the validation results, for Data Docs

    @property
    def passed(self) -> bool:
        """No error expectation failed (warnings do not fail a gate)."""
        return not any(outcome.blocks for outcome in self.outcomes)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.success]


@dataclass
class _Validator:
    checkpoint: object
    row_ids: bool


@dataclass
class _Gates:
    context: object
    docs_dir: Path
    validators: dict[tuple[str, str], _Validator] = field(default_factory=dict)


def validate(
    con: duckdb.DuckDBPyConnection, table: str, suite: Suite, run_name: str, docs_dir: Path, row_ids: bool = False
) -> GateResult:
    """Validate the DuckDB table or view `table` of `con` with `suite`; with `row_ids`,
    failing rows are identified by their `_row_number`. The Data Docs page is named in the
    result and written by `publish_docs`."""
    started = time.perf_counter()
    from great_expectations.core.run_identifier import RunIdentifier

    with bound_to(con):  # GX tests the connection and the table when they are added
        gates = _gates(docs_dir.resolve())
        validator = _validator(suite, table, docs_dir.resolve(), row_ids=row_ids)
        result = validator.checkpoint.run(run_id=RunIdentifier(run_name=_safe(run_name)))
    ((validation_id, validation),) = result.run_results.items()
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    failing = _failing_rows(con, table, validation) if row_ids else {}
    _mask_sensitive_values(gates, validation_id, validation, suite)
    outcomes = tuple(_outcome(item, suite, rows, failing.get(index, ())) for index, item in enumerate(validation.results))
    _store_escaped_for_docs(gates.context, validation_id, validation)
    return GateResult(
        suite=suite.name,
        suite_version=suite.version,
        rows=rows,
        outcomes=outcomes,
        docs_path=_docs_page(gates, validation_id),
        seconds=time.perf_counter() - started,
        validation_ids=(validation_id,),
    )


def _failing_rows(con, table: str, validation) -> dict[int, tuple[int, ...]]:
    """Every failing row's number, per expectation (by its place in the results)."""
    found = {}
    for index, item in enumerate(validation.results):
        result = item.result or {}
        if item.success or not result.get("unexpected_count"):
            continue
        kwargs = item.expectation_config.kwargs
        if item.expectation_config.type == "expect_compound_columns_to_be_unique":
            sql = _duplicate_rows_sql(table, kwargs["column_list"])
        else:
            sql = result["unexpected_index_query"].strip().rstrip(";")
        rows = con.execute(f"select distinct {ROW_ID} from ({sql}) order by {ROW_ID}").fetchall()
        found[index] = tuple(int(number) for (number,) in rows)
    return found


def _duplicate_rows_sql(table: str, columns: Sequence[str]) -> str:
    key = ", ".join(f'"{name}"' for name in columns)
    present = " and ".join(f'"{name}" is not null' for name in columns)
    return (
        f"select {ROW_ID} from (select {ROW_ID}, count(*) over (partition by {key}) as copies from {table} where {present})"
        " where copies > 1"
    )


def _mask_sensitive_values(gates: _Gates, validation_id, validation, suite: Suite) -> None:
    """Sensitive values never leave the gate: masked in the result (its samples feed the
    check metadata) and in the stored copy that Data Docs are rendered from."""
    from orchestration.publish.sensitivity import mask_validation, sensitive_columns

    sensitive = sensitive_columns(suite.name)
    if sensitive:
        mask_validation(validation, sensitive)
        gates.context.validation_results_store.set(validation_id, validation)


def combine(parts: list[GateResult], suite: Suite) -> GateResult:
    """One result for a batch validated in parts: counts add up, and whether a failure
    blocks is decided on the whole batch, as if it had been validated at once."""
    if len(parts) == 1:
        return parts[0]
    rows = sum(part.rows for part in parts)
    outcomes = []
    for same in zip(*(part.outcomes for part in parts)):
        merged = merge_outcomes(same, rows)
        blocks = merged.severity == "error" and not merged.success and (
            merged.error is not None or suite.blocks(merged.unexpected_count, rows)
        )
        outcomes.append(dataclasses.replace(merged, blocks=blocks))
    failing = [part.docs_path for part in parts if part.failures and part.docs_path]
    return GateResult(
        suite=suite.name,
        suite_version=suite.version,
        rows=rows,
        outcomes=tuple(outcomes),
        docs_path=(failing or [parts[0].docs_path])[0],
        seconds=sum(part.seconds for part in parts),
        validation_ids=tuple(identifier for part in parts for identifier in part.validation_ids),
    )


def merge_outcomes(same: Sequence[ExpectationOutcome], rows: int) -> ExpectationOutcome:
    """The outcomes of one expectation on several batches (of `rows` rows in all), as one;
    it blocks where any of them did."""
    unexpected = sum(outcome.unexpected_count for outcome in same)
    return dataclasses.replace(
        same[0],
        success=all(outcome.success for outcome in same),
        blocks=any(outcome.blocks for outcome in same),
        unexpected_count=unexpected,
        unexpected_percent=100 * unexpected / rows if rows else 0.0,
        sample=tuple(value for outcome in same for value in outcome.sample)[:SAMPLE_SIZE],
        row_numbers=tuple(number for outcome in same for number in outcome.row_numbers),
        error=next((outcome.error for outcome in same if outcome.error), None),
    )


def publish_docs(results: list[GateResult], docs_dir: Path, with_index: bool = True) -> None:
    """Write the Data Docs pages of these gate runs in one build (each build compiles GX's
    page templates anew, so pages are built together) and, unless told not to, the site's
    index of this process's gate runs."""
    validations = [identifier for result in results for identifier in result.validation_ids]
    if not validations:
        return
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    suites = sorted({identifier.expectation_suite_identifier.name for identifier in validations})
    _gates(docs_dir.resolve()).context.build_data_docs(
        site_names=[DOCS_SITE],
        resource_identifiers=[*validations, *map(ExpectationSuiteIdentifier, suites)],
        build_index=with_index,
    )


def _outcome(item, suite: Suite, rows: int, row_numbers: tuple[int, ...]) -> ExpectationOutcome:
    config = item.expectation_config
    result = item.result or {}
    kwargs = config.kwargs
    columns = tuple(
        kwargs[name] for name in ("column", "column_A", "column_B") if name in kwargs
    ) or tuple(kwargs.get("column_list", ()))
    error = raised_error(item.exception_info)
    raised = error is not None
    success = bool(item.success) and not raised
    unexpected = int(result.get("unexpected_count") or 0)
    severity = "error" if config.severity.value == "critical" else "warn"
    return ExpectationOutcome(
        reason=config.meta["reason"],
        expectation=config.type,
        columns=columns,
        severity=severity,
        success=success,
        blocks=severity == "error" and not success and (bool(raised) or suite.blocks(unexpected, rows)),
        unexpected_count=unexpected,
        unexpected_percent=float(result.get("unexpected_percent") or 0.0),
        sample=tuple(_show(value) for value in (result.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]),
        row_numbers=row_numbers,
        message=config.meta.get("message", ""),
        error=error,
    )


def raised_error(exception_info: dict | None) -> str | None:
    """GX's message when it could not evaluate an expectation: in the result itself, or
    (from the SQL engine) under the metric that failed."""
    if not isinstance(exception_info, dict) or not exception_info:
        return None
    if "raised_exception" not in exception_info:
        return next(filter(None, map(raised_error, exception_info.values())), None)
    return (exception_info.get("exception_message") or "error") if exception_info["raised_exception"] else None


def _validator(suite: Suite, table: str, docs_dir: Path, row_ids: bool) -> _Validator:
    gates = _gates(docs_dir)
    key = (suite.name, suite.version, table)
    if key not in gates.validators or gates.validators[key].row_ids != row_ids:
        gates.validators[key] = _Validator(_add_checkpoint(gates.context, suite, table, row_ids), row_ids)
    return gates.validators[key]


@cache
def _gates(docs_dir: Path) -> _Gates:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    add_datasource(context)
    return _Gates(context=context, docs_dir=docs_dir)


def _add_checkpoint(context, suite: Suite, table: str, row_ids: bool):
    import great_expectations as gx

    # GX files docs by suite name, and a dot in it would become a folder
    name = f"{suite.name}_{suite.version.rsplit('+', 1)[-1]}_{int(row_ids)}"
    datasource = context.data_sources.get(DATASOURCE)
    asset = datasource.add_table_asset(name=f"{name}_{_safe(table)}", table_name=table)
    batch = asset.add_batch_definition_whole_table(name)
    gx_suite = context.suites.get(name) if name in _suite_names(context) else context.suites.add(
        gx.ExpectationSuite(name=name, expectations=copy.deepcopy(suite.expectations), meta=suite.definition["meta"])
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_{_safe(table)}", data=batch, suite=gx_suite)
    )
    result_format = {"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_SIZE}
    if row_ids:
        result_format["unexpected_index_column_names"] = [ROW_ID]
    return context.checkpoints.add(
        gx.Checkpoint(
            name=f"{name}_{_safe(table)}",
            validation_definitions=[definition],
            result_format=result_format,
        )
    )


def _suite_names(context) -> set[str]:
    return {suite.name for suite in context.suites.all()}


def _store_escaped_for_docs(context, validation_id, validation) -> None:
    """GX's Data Docs put some result values into the page as raw HTML (the table of
    unexpected values), and those values are delivered data: a `<script>` in a delivery
    would run in the page. The stored result, which the pages are built from, keeps every
    result value HTML-escaped (the verdicts above were read from the original)."""
    escaped = copy.deepcopy(validation)
    for item in escaped.results:
        item.result = _escape_strings(item.result)
        item.exception_info = _escape_strings(item.exception_info)
    context.validation_results_store.set(key=validation_id, value=escaped)


def _escape_strings(value):
    if isinstance(value, str):
        return html.escape(value)
    if isinstance(value, dict):
        return {key: _escape_strings(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_escape_strings(item) for item in value)
    return value


def _docs_page(gates: _Gates, validation_id) -> Path:
    """Where the Data Docs page of a validation is (or will be) written."""
    return gates.docs_dir / "validations" / Path(*validation_id.to_tuple()).with_suffix(".html")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _show(value) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(item) for item in value) + ")"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")
