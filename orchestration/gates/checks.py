"""The gates as blocking Dagster asset checks.

- `contract_gate` on every raw asset: the verdict of the feed's raw suite on the
  deliveries the run ingested (computed by the ingestion asset itself);
- `conformed_gate` on conformed models and `mart_gate` on marts: the hand-written suites
  `expectations/conformed__<model>.json` and `expectations/marts__<model>.json`, run on
  the model's table after dbt built it. The dbt project is split at the marts, so a
  failing conformed gate stops the marts from being built on bad data. On a model built
  incrementally (it has `_built_at`), the gate validates the rows built since it last
  passed (`audit.gate_watermarks`), not all history.
"""

from collections.abc import Callable, Iterable
from datetime import datetime, timezone

import dagster as dg

from orchestration.gates.suites import EXPECTATIONS_DIR, Suite, load_suite
from orchestration.gates.validate import ExpectationOutcome, GateResult, publish_docs, validate
from orchestration.resources import QualityGatesResource, WarehouseResource
from orchestration.warehouse import POOL, arrow_frame, first_row, naive_utc, scalar

MODEL_GATES = {"conformed": "conformed_gate", "marts": "mart_gate"}
BUILT_AT = "_built_at"
WATERMARKS_DDL = """
create table if not exists audit.gate_watermarks (
    suite varchar primary key,
    validated_through timestamp not null,
    recorded_at timestamp not null
)
"""


def check_result(results: list[GateResult]) -> dg.AssetCheckResult:
    """One check result for the gate runs of one asset materialization."""
    outcomes = [outcome for result in results for outcome in result.outcomes]
    blocking = any(outcome.blocks for outcome in outcomes)
    warned = any(not outcome.success for outcome in outcomes)
    return dg.AssetCheckResult(
        passed=not warned,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata=gate_metadata(results),
    )


def gate_metadata(results: list[GateResult]) -> dict:
    outcomes = [outcome for result in results for outcome in result.outcomes]
    rows = sum(result.rows for result in results)
    pages = [result.docs_path for result in results if result.docs_path]
    failing_pages = [result.docs_path for result in results if result.docs_path and result.failures]
    metadata = {
        "suite": ", ".join(sorted({result.suite for result in results})) or "none",
        "suite_version": ", ".join(sorted({result.suite_version for result in results})) or "none",
        "batches_validated": len(results),
        "rows_validated": rows,
        "gate_seconds": round(sum(result.seconds for result in results), 2),
        "expectations_blocking": sum(1 for outcome in _per_expectation(outcomes) if outcome.blocks),
        "expectations_not_met": sum(1 for outcome in _per_expectation(outcomes) if not outcome.success),
        "results": dg.MetadataValue.md(_results_table(_per_expectation(outcomes), rows)),
    }
    if pages:
        metadata["data_docs"] = dg.MetadataValue.url((failing_pages or pages)[-1].as_uri())
    return metadata


def _per_expectation(outcomes: Iterable[ExpectationOutcome]) -> list[ExpectationOutcome]:
    """The outcomes of one expectation over several batches, folded into one."""
    folded: dict[tuple, ExpectationOutcome] = {}
    for outcome in outcomes:
        key = (outcome.expectation, outcome.columns, outcome.reason)
        earlier = folded.get(key)
        if earlier is None:
            folded[key] = outcome
            continue
        folded[key] = ExpectationOutcome(
            reason=outcome.reason, expectation=outcome.expectation, columns=outcome.columns,
            severity=outcome.severity, success=earlier.success and outcome.success, blocks=earlier.blocks or outcome.blocks,
            unexpected_count=earlier.unexpected_count + outcome.unexpected_count,
            unexpected_percent=0.0, sample=(earlier.sample + outcome.sample)[:5],
            error=earlier.error or outcome.error,
        )
    return list(folded.values())


def _results_table(outcomes: list[ExpectationOutcome], rows: int) -> str:
    lines = [
        "| expectation | columns | reason | severity | success | blocks | unexpected | % | sample |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in sorted(outcomes, key=lambda o: (not o.blocks, o.success, o.severity != "error")):
        percent = 100 * outcome.unexpected_count / rows if rows else 0.0
        sample = ", ".join(outcome.sample).replace("|", "\\|")
        if outcome.error:
            sample = f"could not be evaluated: {outcome.error}"
        lines.append(
            f"| {outcome.expectation} | {', '.join(outcome.columns)} | {outcome.reason} | {outcome.severity} | "
            f"{'yes' if outcome.success else 'NO'} | {'YES' if outcome.blocks else 'no'} | {outcome.unexpected_count} | "
            f"{percent:.2f} | {sample} |"
        )
    return "\n".join(lines)


# Conformed and mart gates ----------------------------------------------------------------


def model_suites() -> list[Suite]:
    return [
        load_suite(path.stem)
        for gate in MODEL_GATES
        for path in sorted(EXPECTATIONS_DIR.glob(f"{gate}__*.json"))
    ]


def build_model_gate_checks(
    asset_key_for_model: Callable[[str], dg.AssetKey], relation_for_model: Callable[[str], str]
) -> list[dg.AssetChecksDefinition]:
    return [_model_gate_check(suite, asset_key_for_model, relation_for_model) for suite in model_suites()]


def _model_gate_check(suite: Suite, asset_key_for_model, relation_for_model) -> dg.AssetChecksDefinition:
    gate, model = suite.name.split("__", 1)
    relation = relation_for_model(model)
    columns = _columns_used(suite)

    @dg.asset_check(
        asset=asset_key_for_model(model),
        name=MODEL_GATES[gate],
        blocking=True,
        pool=POOL,
        description=suite.definition.get("notes") or f"{suite.name}: the {gate} gate of {model}.",
    )
    def _gate(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, gates: QualityGatesResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            since = _validated_through(con, suite.name, relation)
            frame = _rows_to_validate(con, relation, columns, since)
            result = validate(frame, suite, run_name=f"{context.run.run_id}-{model}", docs_dir=gates.docs_path)
            if result.passed and since is not None and len(frame):
                _record_validated_through(con, suite.name, frame[BUILT_AT].max())
        publish_docs([result], gates.docs_path)
        scope = "all rows" if since is None else f"rows built after {since:%Y-%m-%d %H:%M:%S}"
        context.log.info(f"{suite.name}: {len(result.failures)} of {len(result.outcomes)} expectations not met on {result.rows} {scope}")
        return check_result([result])

    return _gate


def _validated_through(con, suite_name: str, relation: str) -> datetime | None:
    """None for a model rebuilt whole (validate every row); for an incremental one the
    build time of the newest row the gate has passed (epoch when it never has)."""
    schema, table = (part.strip('"') for part in relation.split("."))
    incremental = scalar(
        con,
        "select count(*) from information_schema.columns where table_schema = ? and table_name = ? and column_name = ?",
        [schema, table, BUILT_AT],
    )
    if not incremental:
        return None
    con.execute(WATERMARKS_DDL)
    found = first_row(con, "select validated_through from audit.gate_watermarks where suite = ?", [suite_name])
    return found[0] if found else datetime(1900, 1, 1)


def _rows_to_validate(con, relation: str, columns: list[str], since: datetime | None):
    if since is None:
        return arrow_frame(con, f"select {', '.join(columns)} from {relation}")
    return arrow_frame(con, f"select {', '.join([*columns, BUILT_AT])} from {relation} where {BUILT_AT} > ?", [since])


def _record_validated_through(con, suite_name: str, built_at) -> None:
    con.execute(
        "insert or replace into audit.gate_watermarks values (?, ?, ?)",
        [suite_name, built_at.to_pydatetime(), naive_utc(datetime.now(timezone.utc))],
    )


def _columns_used(suite: Suite) -> list[str]:
    used = []
    for expectation in suite.expectations:
        kwargs = expectation["kwargs"]
        for name in [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B"), *kwargs.get("column_list", [])]:
            if name and name not in used:
                used.append(name)
    return [f'"{name}"' for name in used]
