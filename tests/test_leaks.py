"""Leaks tested, not assumed: canary values planted in every CRO `InternalCost` (the
feed contract's only `cro_internal` column) must not reach any output a sponsor or the
governance forum reads, and a CRO's published view holds no row of another CRO's study.

The fixture is the generator's tiny portfolio (CG-1001 run by acme, CG-1002 by zenith),
every InternalCost replaced by a canary; one acme row carries the malformed canary
`987654.32 EUR`, so the contract gate holds it and the gate, the quarantine and Data
Docs all see the raw value."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.assets.dbt import load_manifest
from orchestration.settings import Settings
from orchestration.contract import load_contract
from orchestration.publish.policy import SHARED, load_policy, published_tables, sensitivity

from conftest import run_pipeline, settings_for, write_tiny_portfolio

CANARY_PREFIX = {"acme": "98765", "zenith": "97531"}  # then three digits, then ".32"
MALFORMED_CANARY = "987654.32 EUR"
SPONSOR_FACING = ("sponsor", "governance")


def plant_canaries(landing: Path) -> dict[str, list[str]]:
    """Every InternalCost of every CRO accruals delivery becomes a unique canary."""
    planted: dict[str, list[str]] = {}
    for cro_id, prefix in CANARY_PREFIX.items():
        files = sorted((landing / f"cro-{cro_id}").glob("accruals__*.csv"))
        canaries = planted.setdefault(cro_id, [])
        for path in files:
            rows = list(csv.DictReader(io.StringIO(path.read_text())))
            for row in rows:
                row["InternalCost"] = f"{prefix}{len(canaries):03d}.32"
                canaries.append(row["InternalCost"])
            if cro_id == "acme" and path == files[-1]:
                rows[0]["InternalCost"] = MALFORMED_CANARY
                canaries[-len(rows)] = MALFORMED_CANARY
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            path.write_text(out.getvalue())
    assert all(len(values) < 1000 for values in planted.values())
    return planted


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaks")
    write_tiny_portfolio(root / "landing")
    planted = plant_canaries(root / "landing")
    settings = settings_for(root, root / "landing", as_of="2026-11-16")
    instance = dg.DagsterInstance.ephemeral()
    result = run_pipeline(settings, instance=instance)
    assert result.success
    return settings, result, instance, planted


def canaries_in(text: str, canaries: list[str]) -> list[str]:
    return [canary for canary in canaries if canary in text]


def every_canary(planted) -> list[str]:
    return [canary for values in planted.values() for canary in values]


def database_texts(path: Path) -> dict[str, str]:
    """Every value of every column of every table, as text, by table."""
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [row[0] for row in con.execute("select table_name from information_schema.tables order by 1").fetchall()]
        return {table: repr(con.execute(f'select * from "{table}"').fetchall()) for table in tables}


def parquet_texts(folder: Path) -> dict[str, str]:
    return {
        path.name: repr(duckdb.sql(f"select * from read_parquet('{path}')").fetchall())
        for path in sorted(folder.glob("*.parquet"))
    }


def test_the_canaries_reach_the_cro_s_own_view(leaky):
    # the positive control: without it, a scan that finds nothing proves nothing
    settings, _, _, planted = leaky
    acme = database_texts(settings.publish_dir / "cro-acme.duckdb")
    valid = [canary for canary in planted["acme"] if canary != MALFORMED_CANARY]
    assert canaries_in(acme["fct_accruals"], valid) == valid
    assert canaries_in(parquet_texts(settings.publish_dir / "cro-acme")["fct_accruals.parquet"], valid) == valid
    assert canaries_in(acme["evidence_accrual_coverage"], valid) == valid  # the evidence carries the CRO's internal cost


def test_the_sponsor_s_evidence_has_no_internal_cost(leaky):
    settings, _, _, planted = leaky
    texts = database_texts(settings.publish_dir / "sponsor.duckdb")
    evidence = sorted(table for table in texts if table.startswith("evidence_"))
    assert evidence == [
        "evidence_accrual_coverage", "evidence_budget_burn", "evidence_closeout", "evidence_country_readiness",
        "evidence_country_startup", "evidence_data_quality", "evidence_deviations", "evidence_enrollment_vs_plan",
        "evidence_event_to_payable", "evidence_forecast_accuracy", "evidence_milestone_discrepancies", "evidence_risks",
        "evidence_site_payment_status", "evidence_site_readiness", "evidence_study_startup",
        "evidence_verification_timeliness",
    ]
    assert {table: canaries_in(texts[table], every_canary(planted)) for table in evidence} == {table: [] for table in evidence}
    with duckdb.connect(str(settings.publish_dir / "sponsor.duckdb"), read_only=True) as con:
        columns = [row[0] for row in con.execute(
            "select column_name from information_schema.columns where table_name = 'evidence_accrual_coverage'"
        ).fetchall()]
    assert "amount_reporting" in columns and "internal_cost" not in columns


@pytest.mark.parametrize("audience", SPONSOR_FACING)
def test_no_canary_in_any_column_of_a_sponsor_facing_database(leaky, audience):
    settings, _, _, planted = leaky
    texts = database_texts(settings.publish_dir / f"{audience}.duckdb")
    assert len(texts) > 1
    assert {table: canaries_in(text, every_canary(planted)) for table, text in texts.items() if canaries_in(text, every_canary(planted))} == {}


@pytest.mark.parametrize("audience", SPONSOR_FACING)
def test_no_canary_in_any_sponsor_facing_parquet_file(leaky, audience):
    settings, _, _, planted = leaky
    texts = parquet_texts(settings.publish_dir / audience)
    assert len(texts) > 1
    assert {name: canaries_in(text, every_canary(planted)) for name, text in texts.items() if canaries_in(text, every_canary(planted))} == {}


def test_no_column_marked_sensitive_is_published_to_the_sponsor(leaky):
    settings, _, _, _ = leaky
    with duckdb.connect(str(settings.publish_dir / "sponsor.duckdb"), read_only=True) as con:
        columns = con.execute("select table_name, column_name from information_schema.columns where column_name like '%internal%'").fetchall()
    assert columns == []


def test_a_cro_s_view_holds_only_its_own_studies_and_deliveries(leaky):
    settings, _, _, planted = leaky
    for cro_id, study, other in (("acme", "CG-1001", "zenith"), ("zenith", "CG-1002", "acme")):
        path = settings.publish_dir / f"cro-{cro_id}.duckdb"
        with duckdb.connect(str(path), read_only=True) as con:
            studied = [
                row[0] for row in con.execute(
                    "select table_name from information_schema.columns where column_name = 'study_id' order by 1"
                ).fetchall()
            ]
            studies = {table: sorted(r[0] for r in con.execute(f'select distinct study_id from "{table}"').fetchall()) for table in studied}
            sources = con.execute("select name from _published where item = 'source' order by name").fetchall()
        assert len(studies) == 45  # every published table with a study_id: the study operations facts and marts, 15 evidence models (not data quality's)
        assert {table: found for table, found in studies.items() if set(found) - {study}} == {}  # an empty table holds no foreign row
        assert sources == [(f"cro-{cro_id}",), ("sponsor",)]
        assert canaries_in(repr(database_texts(path)), planted[other]) == []


def test_the_held_canary_row_is_masked_in_the_quarantine_everyone_reads(leaky):
    settings, _, _, _ = leaky
    with duckdb.connect(str(settings.publish_dir / "governance.duckdb"), read_only=True) as con:
        held = con.execute("select source, feed, rule, offending_value, reason from quarantined_rows").fetchall()
    assert len(held) == 1
    source, feed, rule, offending_value, reason = held[0]
    assert (source, feed, rule) == ("cro-acme", "accruals", "invalid_format")
    assert json.loads(offending_value)["InternalCost"] == "***"
    assert reason == "invalid_format: InternalCost='***' is not a decimal number with '.' as separator"


def test_no_canary_in_any_dagster_event_or_metadata(leaky):
    _, result, instance, planted = leaky
    entries = instance.all_logs(result.run_id)
    assert len(entries) > 100
    leaked = [str(entry)[:300] for entry in entries if canaries_in(str(entry), every_canary(planted))]
    assert leaked == []


def test_the_contract_gate_reports_the_malformed_value_masked(leaky):
    _, result, _, _ = leaky
    (gate,) = [
        check for check in result.get_asset_check_evaluations()
        if check.asset_key == dg.AssetKey(["raw", "cro__accruals"]) and check.check_name == "contract_gate"
    ]
    results = gate.metadata["results"].value
    (line,) = [line for line in results.splitlines() if "| InternalCost | invalid_format |" in line]
    assert line.endswith("| 1 | 0.58 | '***' |")


def test_no_canary_in_any_data_docs_page(leaky):
    settings, _, _, planted = leaky
    pages = sorted(settings.quality_docs_dir.rglob("*.html"))
    assert len(pages) > 20
    assert [page.name for page in pages if canaries_in(page.read_text(), every_canary(planted))] == []


def test_no_canary_in_a_receipt_sent_to_the_sponsor(leaky):
    settings, _, _, planted = leaky
    receipts = sorted((settings.archive_dir / "sponsor").glob("*.receipt.json"))
    assert len(receipts) == 20
    assert [path.name for path in receipts if canaries_in(path.read_text(), every_canary(planted))] == []


# The policy itself --------------------------------------------------------------------


def manifest() -> dict:
    return load_manifest(Settings.from_env())


def test_every_published_table_is_a_model_declared_for_that_audience(leaky):
    settings, _, _, _ = leaky
    declared = {
        node["alias"]: node["config"].get("meta", {}).get("audience", [])
        for node in manifest()["nodes"].values() if node["resource_type"] == "model"
    }
    for audience, kind in (("sponsor", "sponsor"), ("governance", "governance"), ("cro-acme", "cro")):
        with duckdb.connect(str(settings.publish_dir / f"{audience}.duckdb"), read_only=True) as con:
            tables = [row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()]
        assert [table for table in tables if table != "_published" and kind not in declared.get(table, [])] == []


def test_a_model_without_an_audience_is_published_to_nobody():
    policy = load_policy()
    nodes = manifest()
    nodes["nodes"]["model.common_ground.new_mart"] = {
        "resource_type": "model", "name": "new_mart", "alias": "new_mart", "schema": "marts",
        "config": {"meta": {}}, "meta": {},
        "columns": {"study_id": {"name": "study_id"}, "internal_cost": {"name": "internal_cost"}},
    }
    for kind in policy["audiences"]:
        assert "new_mart" not in [table.name for table in published_tables(kind, nodes, policy)]
    nodes["nodes"]["model.common_ground.new_mart"]["config"]["meta"] = {"audience": ["sponsor"]}
    nodes["nodes"]["model.common_ground.new_mart"]["columns"]["internal_cost"]["config"] = {"meta": {"sensitivity": "cro_internal"}}
    (table,) = [table for table in published_tables("sponsor", nodes, policy) if table.name == "new_mart"]
    assert table.columns == ("study_id",)


def test_the_dbt_sources_declare_the_contract_s_sensitive_columns():
    contract = {
        (feed.table, column.name)
        for feed in load_contract().feeds for column in feed.columns if column.sensitivity != SHARED
    }
    declared = {
        (source["name"], column["name"])
        for source in manifest()["sources"].values() if source["source_name"] == "raw"
        for column in source["columns"].values() if sensitivity(column) != SHARED
    }
    assert declared == contract == {("cro__accruals", "InternalCost")}
