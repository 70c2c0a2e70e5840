"""Held deliveries: a delivery whose contract gate blocks as a whole waits in `held`,
out of raw, until a data steward releases it or the sender's corrected file supersedes
it; each way out is recorded with who, when and why."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from orchestration.contract import load_contract
from orchestration.ingest.held import ReleaseRefused, held_deliveries, release_delivery
from orchestration.warehouse import connect
from tests.conftest import PROJECT_ROOT, ingest_everything, run_pipeline, settings_for, write_delivery
from tests.test_gates import SITES, VISITS, visit

BAD_WEEK = "visits__20261110T030000Z.csv"


def half_bad_visits(subjects=range(1, 13)) -> str:
    """12 visits, the first 6 dated 03/11/2026 (not DD-MMM-YYYY): 50 % of the rows break one
    rule, beyond the 10 % tolerance, so the gate blocks."""
    return VISITS + "".join(visit(f"A-{n:03}", visit_date="03/11/2026" if n <= 6 else "03-Nov-2026") for n in subjects)


def ledger(con):
    return con.execute("select file_name, status, rows_loaded, rows_quarantined from audit.delivery_ledger order by file_name").fetchall()


def count(con, table):
    return con.execute(f"select count(*) from {table}").fetchall()[0][0]


def releases(con):
    return con.execute(
        "select delivery_id, action, released_by, reason, superseded_by from audit.delivery_releases order by released_at"
    ).fetchall()


@pytest.fixture
def held_visits(con, landing, archive):
    write_delivery(landing, "cro-acme", BAD_WEEK, half_bad_visits())
    (outcome,) = ingest_everything(con, landing, archive)
    assert outcome.status == "held"
    return outcome


def test_a_held_delivery_keeps_its_rows_out_of_raw(con, held_visits):
    assert ledger(con) == [(BAD_WEEK, "held", 6, 6)]
    assert (count(con, "raw.cro__visits"), count(con, "held.cro__visits")) == (0, 6)
    (waiting,) = held_deliveries(con)
    assert waiting.delivery_id.startswith(f"cro-acme/{BAD_WEEK}#") and waiting.rows == 6
    assert held_visits.receipt_path.exists()
    assert waiting.reason.startswith("held: the contract gate blocks (invalid_format in VisitDate on 6 of 12 rows)")


def test_a_release_moves_the_rows_to_raw_with_who_and_why(con, held_visits):
    (waiting,) = held_deliveries(con)

    feed, rows = release_delivery(con, load_contract(), waiting.delivery_id, "J. Steward", "dates confirmed with the CRO")

    assert (feed.table, rows) == ("cro__visits", 6)
    assert ledger(con) == [(BAD_WEEK, "loaded", 6, 6)]
    assert (count(con, "raw.cro__visits"), count(con, "held.cro__visits")) == (6, 0)
    assert releases(con) == [(waiting.delivery_id, "released", "J. Steward", "dates confirmed with the CRO", None)]
    with pytest.raises(ReleaseRefused, match="is loaded, not held: only a held delivery can be released"):
        release_delivery(con, load_contract(), waiting.delivery_id, "J. Steward", "again")
    with pytest.raises(ReleaseRefused, match="no delivery 'nope' in the ledger; `cg-release list` shows the held ones"):
        release_delivery(con, load_contract(), "nope", "J. Steward", "why")
    with pytest.raises(ReleaseRefused, match=r"a release needs who releases it \(--by\) and why \(--reason\)"):
        release_delivery(con, load_contract(), waiting.delivery_id, " ", "why")


def test_a_corrected_incremental_delivery_supersedes_the_held_one_only_when_it_carries_all_its_keys(
    con, landing, archive, held_visits
):
    (waiting,) = held_deliveries(con)
    partial = VISITS + "".join(visit(f"A-{n:03}") for n in range(1, 4))
    write_delivery(landing, "cro-acme", "visits__20261111T030000Z.csv", partial)
    ingest_everything(con, landing, archive)
    still_held = [delivery.delivery_id for delivery in held_deliveries(con)]
    corrected = VISITS + "".join(visit(f"A-{n:03}", updated="2026-11-05T10:00:00Z") for n in range(1, 13))
    write_delivery(landing, "cro-acme", "visits__20261112T030000Z.csv", corrected)

    (outcome,) = ingest_everything(con, landing, archive)

    assert still_held == [waiting.delivery_id]  # A-004..A-012 were not in the partial delivery
    assert outcome.status == "loaded"
    assert ledger(con) == [
        (BAD_WEEK, "superseded", 6, 6), ("visits__20261111T030000Z.csv", "loaded", 3, 0),
        ("visits__20261112T030000Z.csv", "loaded", 12, 0),
    ]
    ((held_id, action, by, reason, superseded_by),) = releases(con)
    assert (held_id, action, by, superseded_by) == (waiting.delivery_id, "superseded", "cro-acme", outcome_id(con, outcome))
    assert reason == f"superseded by the corrected delivery {superseded_by}"
    assert count(con, "held.cro__visits") == 6  # kept as evidence, never read downstream


def test_a_later_snapshot_supersedes_a_held_snapshot(con, landing, archive):
    missing_country = "".join(f"S1,S{n:02},01{n:02},,Selected\n" for n in range(1, 7))
    write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv", SITES + missing_country)
    (held,) = ingest_everything(con, landing, archive)
    write_delivery(landing, "cro-acme", "sites__20261117T030000Z.csv", SITES + "S1,S01,0101,France,Selected\n")

    (corrected,) = ingest_everything(con, landing, archive)

    assert (held.status, corrected.status) == ("held", "loaded")
    assert ledger(con) == [("sites__20261110T030000Z.csv", "superseded", 0, 6), ("sites__20261117T030000Z.csv", "loaded", 1, 0)]


def test_the_release_cli_lists_releases_and_tells_the_dagster_instance(tmp_path, con, held_visits):
    con.close()
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "CG_WAREHOUSE": str(tmp_path / "warehouse.duckdb"), "DAGSTER_HOME": str(home)}
    cli = [sys.executable, "-m", "orchestration.release"]

    listed = subprocess.run([*cli, "list"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    delivery_id = listed.stdout.split()[0]
    released = subprocess.run(
        [*cli, "release", delivery_id, "--by", "J. Steward", "--reason", "checked"], env=env, capture_output=True, text=True,
        cwd=PROJECT_ROOT,
    )
    again = subprocess.run(
        [*cli, "release", delivery_id, "--by", "J. Steward", "--reason", "checked"], env=env, capture_output=True, text=True,
        cwd=PROJECT_ROOT,
    )

    assert listed.returncode == 0 and delivery_id.startswith(f"cro-acme/{BAD_WEEK}#")
    assert "(6 rows, held since " in listed.stdout
    assert released.returncode == 0, released.stderr
    assert released.stdout.splitlines() == [
        f"Released {delivery_id}: 6 rows into raw.cro__visits, by J. Steward.",
        "Dagster instance told: raw/cro__visits changed; automation rebuilds the marts.",
    ]
    assert (again.returncode, again.stderr.strip()) == (
        1, f"Not released: {delivery_id} is loaded, not held: only a held delivery can be released",
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "cro__visits"]))
    assert event is not None and event.asset_materialization.description == "a held delivery was released"


def outcome_id(con, outcome) -> str:
    return con.execute(
        "select delivery_id from audit.delivery_ledger where file_name = ?", [outcome.delivery.file_name]
    ).fetchall()[0][0]


def test_the_governance_marts_show_held_deliveries_and_stale_sources(tmp_path, landing):
    """acme's visits are held, then released; its sites are held and still waiting; zenith
    last delivered ten days ago, past the 8-day window."""
    write_delivery(landing, "cro-acme", BAD_WEEK, half_bad_visits())
    write_delivery(landing, "cro-acme", "sites__20261110T030000Z.csv", SITES + "".join(f"S1,S{n:02},01{n:02},,Selected\n" for n in range(1, 7)))
    write_delivery(landing, "cro-zenith", "visits__20261110T030000Z.csv", VISITS + visit("Z-001"))
    settings = settings_for(tmp_path, landing)
    selection = dg.AssetSelection.assets(["marts", "held_deliveries"], ["marts", "source_freshness"])
    run_pipeline(settings, selection=dg.AssetSelection.key_prefixes("raw", "audit") | selection)
    with connect(settings.warehouse) as con:
        visits_id = con.execute("select delivery_id from audit.delivery_ledger where file_name = ?", [BAD_WEEK]).fetchall()[0][0]
        release_delivery(con, load_contract(), visits_id, "J. Steward", "dates confirmed")
        con.execute("update audit.delivery_ledger set ingested_at = ingested_at - interval 10 day where source = 'cro-zenith'")

    result = run_pipeline(settings, selection=dg.AssetSelection.key_prefixes("audit") | selection)

    with connect(settings.warehouse, read_only=True) as con:
        held = con.execute("select file_name, status, rows_kept, rows_quarantined, left_by, left_reason from marts.held_deliveries order by file_name").fetchall()
        fresh = con.execute(
            "select source, feed, deliveries_held, hours_since_received >= 240, is_stale from marts.source_freshness order by all"
        ).fetchall()
    assert held == [
        ("sites__20261110T030000Z.csv", "held", 0, 6, None, None),
        (BAD_WEEK, "released", 6, 6, "J. Steward", "dates confirmed"),
    ]
    assert fresh == [("cro-acme", "sites", 1, False, False), ("cro-acme", "visits", 0, False, False), ("cro-zenith", "visits", 0, True, True)]
    (check,) = [check for check in result.get_asset_check_evaluations() if check.check_name == "sources_fresh"]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert check.metadata["stale"].value.startswith("- cro-zenith/visits: nothing for 2")
    assert check.metadata["held"].value == "- cro-acme/sites: 1 held"


def test_the_release_job_releases_and_reports_the_raw_asset_changed(tmp_path, con, held_visits):
    from orchestration.jobs import release_held_delivery
    from orchestration.resources import WarehouseResource

    (waiting,) = held_deliveries(con)
    con.close()
    config = {"delivery_id": waiting.delivery_id, "released_by": "J. Steward", "reason": "dates confirmed"}

    result = release_held_delivery.execute_in_process(
        run_config={"ops": {"release_delivery_op": {"config": config}}},
        resources={"warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))},
    )

    assert result.success
    assert sorted(event.asset_key.to_user_string() for event in result.get_asset_materialization_events()) == [
        "audit/delivery_ledger", "audit/delivery_releases", "audit/ingest_quarantine", "raw/cro__visits",
    ]
    with connect(tmp_path / "warehouse.duckdb", read_only=True) as reopened:
        assert ledger(reopened) == [(BAD_WEEK, "loaded", 6, 6)]
        assert releases(reopened)[0][1:3] == ("released", "J. Steward")
