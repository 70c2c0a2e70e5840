"""The gates as Dagster asset checks, each gate a pair:

- the gate itself (`contract_gate`, `conformed_gate`, `mart_gate`), a blocking check that
  fails only when the governed verdict blocks (an error expectation failed beyond the
  tolerance, or could not be evaluated): then what is downstream is not built on it;
- its `<gate>_warnings` twin, a non-blocking check with severity WARN that fails when
  anything was held or warned (rows quarantined, warn expectations not met, deliveries
  held), so warnings show in the UI as warnings and never stop automation.

`contract_gate` on every raw asset reports the feed's raw suite on the deliveries the run
ingested (computed by the ingestion asset itself); `conformed_gate` on conformed models
and `mart_gate` on marts run the hand-written suites `expectations/conformed__<model>.json`
and `expectations/marts__<model>.json` on the model's table after dbt built it. The dbt
project is split at the marts, so a failing conformed gate stops the marts from being
built on bad data. On a model built incrementally (it has `_built_at`), the gate
validates the rows built since it last passed (`audit.gate_watermarks`), not all history.
"""

import html
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

import dagster as dg

from orchestration.gates.suites import EXPECTATIONS_DIR, Suite, load_suite
from orchestration.gates.validate import ExpectationOutcome, GateResult, merge_outcomes, publish_docs, validate
from orchestration.resources import QualityDocsResource, WarehouseResource
from orchestration.warehouse import POOL, first_row, naive_utc

MODEL_GATES = {"conformed": "conformed_gate", "marts": "mart_gate"}
BUILT_AT = "_built_at"
WATERMARKS_DDL = """
create table if not exists audit.gate_watermarks (
    suite varchar primary key,
    validated_through timestamp not null,
    recorded_at timestamp not null
)
"""


def warnings_check_name(gate: str) -> str:
    return f"{gate}_warnings"


def gate_check_specs(gate: str, asset_key: dg.AssetKey, description: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(gate, asset=asset_key, blocking=True, description=description),
        dg.AssetCheckSpec(
            warnings_check_name(gate), asset=asset_key, blocking=False,
            description=f"Warns when the {gate} held rows or deliveries, or a warn expectation was not met; never blocks.",
        ),
    ]


def check_results(
    results: list[GateResult],
    gate_key: dg.AssetCheckKey | None = None,
    gate: str | None = None,
    held: Iterable[str] = (),
    rows_quarantined: int = 0,
) -> list[dg.AssetCheckResult]:
    """The gate's verdict and its warnings for the gate runs of one asset materialization.
    `held` names deliveries held as a whole: they are kept out of the asset, so they do not
    fail the gate, they warn; so do rows quarantined. Pass `gate_key` for a multi-asset
    check, else `gate`."""
    outcomes = [outcome for result in results for outcome in result.outcomes]
    held = list(held)
    metadata = gate_metadata(results)
    not_met = [outcome for outcome in outcomes if not outcome.success]
    gate_name = gate_key.name if gate_key else gate
    asset_key = gate_key.asset_key if gate_key else None
    warnings = {
        "expectations_not_met": len({(o.expectation, o.columns, o.reason) for o in not_met}),
        "rows_quarantined": rows_quarantined,
        "deliveries_held": dg.MetadataValue.md("\n".join(f"- {name}" for name in held) or "none"),
    }
    return [
        dg.AssetCheckResult(
            asset_key=asset_key, check_name=gate_name, passed=not any(o.blocks for o in outcomes),
            severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
        ),
        dg.AssetCheckResult(
            asset_key=asset_key, check_name=warnings_check_name(gate_name), passed=not not_met and not held and not rows_quarantined,
            severity=dg.AssetCheckSeverity.WARN, metadata=warnings,
        ),
    ]


def gate_metadata(results: list[GateResult]) -> dict:
    rows = sum(result.rows for result in results)
    outcomes = _per_expectation([outcome for result in results for outcome in result.outcomes], rows)
    pages = [result.docs_path for result in results if result.docs_path]
    failing_pages = [result.docs_path for result in results if result.docs_path and result.failures]
    metadata = {
        "suite": ", ".join(sorted({result.suite for result in results})) or "none",
        "suite_version": ", ".join(sorted({result.suite_version for result in results})) or "none",
        "batches_validated": len(results),
        "rows_validated": rows,
        "gate_seconds": round(sum(result.seconds for result in results), 2),
        "expectations_blocking": sum(1 for outcome in outcomes if outcome.blocks),
        "expectations_not_met": sum(1 for outcome in outcomes if not outcome.success),
        "results": dg.MetadataValue.md(_results_table(outcomes, rows)),
    }
    if pages:
        metadata["data_docs"] = dg.MetadataValue.url((failing_pages or pages)[-1].as_uri())
    return metadata


def _per_expectation(outcomes: Iterable[ExpectationOutcome], rows: int) -> list[ExpectationOutcome]:
    """The outcomes of one expectation over several batches, folded into one."""
    grouped: dict[tuple, list[ExpectationOutcome]] = {}
    for outcome in outcomes:
        grouped.setdefault((outcome.expectation, outcome.columns, outcome.reason), []).append(outcome)
    return [merge_outcomes(same, rows) for same in grouped.values()]


def _results_table(outcomes: list[ExpectationOutcome], rows: int) -> str:
    lines = [
        "| expectation | columns | reason | severity | success | blocks | unexpected | % | sample |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for outcome in sorted(outcomes, key=lambda o: (not o.blocks, o.success, o.severity != "error")):
        percent = 100 * outcome.unexpected_count / rows if rows else 0.0
        # delivered values, shown as text in the UI's markdown, never as HTML
        sample = html.escape(", ".join(outcome.sample), quote=False).replace("|", "\\|")
        if outcome.error:
            sample = f"could not be evaluated: {outcome.error}"
        lines.append(
            f"| {outcome.expectation} | {', '.join(outcome.columns)} | {outcome.reason} | {outcome.severity} | "
            f"{'yes' if outcome.success else 'NO'} | {'YES' if outcome.blocks else 'no'} | {outcome.unexpected_count} | "
            f"{percent:.2f} | {sample} |"
        )
    return "\n".join(lines)


# Conformed and mart gates ----------------------------------------------------------------


def model_suites(gate: str) -> list[Suite]:
    return [load_suite(path.stem) for path in sorted(EXPECTATIONS_DIR.glob(f"{gate}__*.json"))]


def build_model_gate_checks(
    asset_key_for_model: Callable[[str], dg.AssetKey], relation_for_model: Callable[[str], str]
) -> list[dg.AssetChecksDefinition]:
    return [_layer_gate_checks(gate, asset_key_for_model, relation_for_model) for gate in MODEL_GATES]


def _layer_gate_checks(gate: str, asset_key_for_model, relation_for_model) -> dg.AssetChecksDefinition:
    """The gates of one layer as one step: each model's gate is its own blocking check, and
    running them together costs one step and one Data Docs build instead of one per model."""
    gated: dict[dg.AssetCheckKey, tuple[Suite, str]] = {}  # the suite and the relation it validates
    specs = []
    for suite in model_suites(gate):
        model = suite.name.split("__", 1)[1]
        gate_spec, warnings_spec = gate_check_specs(
            MODEL_GATES[gate], asset_key_for_model(model),
            suite.definition.get("notes") or f"{suite.name}: the {gate} gate of {model}.",
        )
        specs += [gate_spec, warnings_spec]
        gated[gate_spec.key] = (suite, relation_for_model(model))

    @dg.multi_asset_check(specs=specs, name=f"{MODEL_GATES[gate]}s", can_subset=True, pool=POOL)
    def _gates(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, quality_docs: QualityDocsResource):
        selected = context.selected_asset_check_keys
        verdicts = {}
        with warehouse.connect() as con:
            for key in sorted(gated, key=lambda key: key.asset_key.to_user_string()):
                if key in selected or _warnings_key(key) in selected:
                    verdicts[key] = _run_gate(context, con, *gated[key], quality_docs)
        publish_docs(list(verdicts.values()), quality_docs.docs_path)
        for key, result in verdicts.items():
            yield from (check for check in check_results([result], key) if _key_of(check) in selected)

    return _gates


def _warnings_key(key: dg.AssetCheckKey) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(key.asset_key, warnings_check_name(key.name))


def _key_of(check: dg.AssetCheckResult) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(check.asset_key, check.check_name)


def _run_gate(context, con, suite: Suite, relation: str, quality_docs: QualityDocsResource) -> GateResult:
    """The suite on the model's rows where they are, in DuckDB: a view of the rows to
    validate (on an incremental model, those built since the gate last passed)."""
    since = _validated_through(con, suite.name, relation)
    view = f"gate__{suite.name}"
    scope = "" if since is None else f" where {BUILT_AT} > timestamp '{since:%Y-%m-%d %H:%M:%S.%f}'"
    con.execute(f"create or replace temp view {view} as select * from {relation}{scope}")
    result = validate(con, view, suite, f"{context.run.run_id}-{suite.name}", quality_docs.docs_path)
    built = first_row(con, f"select max({BUILT_AT}) from {view}")[0] if since is not None else None
    con.execute(f"drop view {view}")
    if result.passed and built is not None:
        _record_validated_through(con, suite.name, built)
    scope = "all rows" if since is None else f"rows built after {since:%Y-%m-%d %H:%M:%S}"
    context.log.info(f"{suite.name}: {len(result.failures)} of {len(result.outcomes)} expectations not met on {result.rows} {scope}")
    return result


def _validated_through(con, suite_name: str, relation: str) -> datetime | None:
    """None for a model rebuilt whole (validate every row); for an incremental one the
    build time of the newest row the gate has passed (epoch when it never has)."""
    if BUILT_AT not in con.sql(f"select * from {relation} limit 0").columns:
        return None
    con.execute(WATERMARKS_DDL)
    found = first_row(con, "select validated_through from audit.gate_watermarks where suite = ?", [suite_name])
    return found[0] if found else datetime(1900, 1, 1)


def _record_validated_through(con, suite_name: str, built_at) -> None:
    con.execute(
        "insert or replace into audit.gate_watermarks values (?, ?, ?)",
        [suite_name, built_at, naive_utc(datetime.now(timezone.utc))],
    )
