"""The marts stand on gated data only: every KPI and governance mart reads core models
that carry a blocking conformed gate, so when a conformed gate fails, Dagster builds no
mart in that run (README, "What happens to a delivery", step 7)."""

from __future__ import annotations

import json
import shutil

import dagster as dg

from orchestration.assets import dbt as dbt_assets
from orchestration.gates import checks, suites
from orchestration.warehouse import connect

from conftest import PROJECT_ROOT, run_pipeline, settings_for

KPI_FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "kpi"


def test_a_failing_conformed_gate_builds_no_mart(tmp_path, monkeypatch):
    # A copy of the suites in which HELD is no longer a payment status: the KPI fixture's
    # held payments then break the conformed gate of fct_site_payments.
    expectations = tmp_path / "expectations"
    shutil.copytree(suites.EXPECTATIONS_DIR, expectations)
    suite_path = expectations / "conformed__fct_site_payments.json"
    suite = json.loads(suite_path.read_text())
    (status,) = [e for e in suite["expectations"] if e["kwargs"].get("column") == "payment_status"]
    status["kwargs"]["value_set"].remove("HELD")
    suite_path.write_text(json.dumps(suite))
    monkeypatch.setattr(suites, "EXPECTATIONS_DIR", expectations)
    monkeypatch.setattr(checks, "EXPECTATIONS_DIR", expectations)
    settings = settings_for(tmp_path, KPI_FIXTURE, as_of="2026-06-30")
    conformed_dbt_assets, mart_dbt_assets = dbt_assets.load_dbt_graph(settings).assets

    result = run_pipeline(settings, raise_on_error=False)

    failed = {
        (check.asset_key.to_user_string(), check.check_name, check.severity)
        for check in result.get_asset_check_evaluations() if not check.passed
    }
    assert ("marts/fct_site_payments", "conformed_gate", dg.AssetCheckSeverity.ERROR) in failed
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert set(conformed_dbt_assets.keys) <= materialized  # all built and tested: only the gate failed
    marts = set(mart_dbt_assets.keys)
    assert dg.AssetKey(["marts", "evidence_site_payment_status"]) in marts
    assert len(marts) == 38  # 14 KPI and governance marts + six study operations marts + 16 evidence models, snapshot_changes, audit_trail
    assert materialized & marts == set()
    with connect(settings.warehouse, read_only=True) as con:
        built = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' and table_name in (select unnest(?))",
            [[key.path[-1] for key in marts]],
        ).fetchall()
    assert built == []
