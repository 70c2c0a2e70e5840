"""`cg-staging`: dbt's raw sources, staging models and feed list are what the feed contract
gives, and a feed added to the contract gets a source and a staging model that build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from datetime import date
from pathlib import Path

import yaml

from orchestration import staging
from orchestration.contract import CONTRACT_PATH, load_contract
from orchestration.gates.suites import load_suite, raw_suite, raw_suite_name
from orchestration.ingest.deliveries import discover
from orchestration.ingest.loader import ensure_warehouse, ingest_delivery
from orchestration.warehouse import connect
from tests.conftest import PROJECT_ROOT, write_delivery

DBT = str(Path(sys.executable).with_name("dbt"))

SITE_BUDGETS = {
    "description": "Sponsor budget per site and month (snapshot).",
    "kind": "snapshot",
    "format": "csv",
    "key": ["study_id", "site_number", "month"],
    "columns": {
        "study_id": {"type": "string", "required": True},
        "site_number": {"type": "string", "required": True, "blank_as_null": True},
        "country": {"type": "string", "as": "country_code", "normalize": "code"},
        "month": {"type": "month", "required": True, "as": "budget_month"},
        "approved": {"type": "date", "past": True, "as": "approved_date"},
        "budget": {"type": "decimal", "required": True, "min": 0, "max": 1000000000},
        "visits_budgeted": {"type": "integer", "min": 0},
        "final": {"type": "flag", "as": "is_final"},
    },
}

DELIVERY = (
    "study_id,site_number,country,month,approved,budget,visits_budgeted,final\n"
    "ST-1,101, fr ,2026-05,2026-04-20,12500.50,40,Y\n"
    "ST-1,102,de,2026-06,,800,,N\n"
)


def test_the_dbt_files_are_what_the_contract_gives():
    done = subprocess.run([sys.executable, "-m", "orchestration.staging", "--check"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert (done.returncode, done.stderr) == (0, "")


def test_a_staging_model_changed_by_hand_is_reported_stale(tmp_path, capsys):
    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "staging" / "cro" / "stg_cro__visits.sql"
    model.write_text(model.read_text().replace("as cro_visit_code", "as visit_code_of_the_cro"))

    assert staging.main(["--check", "--project", str(project)]) == 1
    assert capsys.readouterr().err == f"stale: {model} (run `cg-staging --write`)\n"


def test_a_feed_added_to_the_contract_gets_a_source_and_a_staging_model_that_build(tmp_path, capsys):
    project = tmp_path / "dbt_project"
    shutil.copytree(PROJECT_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    contract_path = tmp_path / "feed_contract.yaml"
    document = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))
    document["feeds"]["sponsor"]["site_budgets"] = SITE_BUDGETS
    contract_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    assert staging.main(["--write", "--contract", str(contract_path), "--project", str(project)]) == 0
    written = capsys.readouterr().out
    model = project / "models" / "staging" / "sponsor" / "stg_sponsor__site_budgets.sql"
    assert f"wrote {model}\n" in written
    assert "sponsor feed 'site_budgets' has no conform model yet" in written
    sources = yaml.safe_load((project / "models" / "staging" / "_raw__sources.yml").read_text())["sources"][0]["tables"]
    assert sources[-8]["name"] == "sponsor__site_budgets"  # after the sponsor's other feeds, before the CRO's seven
    assert sources[-8]["config"] == {"meta": {"snapshot_key": ["study_id", "site_number", "month"]}}
    assert "('sponsor', 'site_budgets')" not in (project / "macros" / "feeds.sql").read_text()  # no conform model yet

    # a delivery of the new feed, read and gated as the pipeline does
    contract = load_contract(contract_path)
    feed = contract.feed("sponsor", "site_budgets")
    suites = tmp_path / "expectations"
    suites.mkdir()
    (suites / f"{raw_suite_name(feed)}.json").write_text(json.dumps(raw_suite(feed)), encoding="utf-8")
    landing = tmp_path / "landing"
    write_delivery(landing, "sponsor", "site_budgets__20260630T030000Z.csv", DELIVERY)
    warehouse = tmp_path / "warehouse.duckdb"
    with connect(warehouse) as con:
        ensure_warehouse(con, contract)
        (delivery,) = discover(landing, feed)
        outcome = ingest_delivery(con, contract, feed, load_suite(raw_suite_name(feed), suites), delivery,
                                  tmp_path / "archive", tmp_path / "quality_docs", "test")
    assert outcome.status == "loaded"

    done = subprocess.run(
        [DBT, "build", "--quiet", "--select", "stg_sponsor__site_budgets", "--project-dir", str(project),
         "--profiles-dir", str(project)],
        env={**os.environ, "CG_ENGINE": "duckdb", "CG_WAREHOUSE": str(warehouse)}, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    with connect(warehouse, read_only=True) as con:
        rows = con.execute("""
            select study_id, site_number, country_code, budget_month, budget_month_start, approved_date, budget,
                   visits_budgeted, is_final, _cast_error, _row_number
            from staging.stg_sponsor__site_budgets order by _row_number
        """).fetchall()
    assert rows == [
        ("ST-1", "101", "FR", "2026-05", date(2026, 5, 1), date(2026, 4, 20), Decimal("12500.50"), 40, True, None, 1),
        ("ST-1", "102", "DE", "2026-06", date(2026, 6, 1), None, Decimal("800.00"), None, False, None, 2),
    ]
