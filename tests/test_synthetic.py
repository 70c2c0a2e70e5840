"""The synthetic portfolio generator: deterministic, in the contract's format, realistic
invariants on clean data, defects where asked for, and a usable CLI."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchestration.contract import DELIVERY_NAME, load_contract, source_side
from workshop.synthetic import PortfolioSpec, generate_portfolio


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*__*"))}


def clean(seed=6):
    return dataclasses.replace(PortfolioSpec.for_size("tiny", seed=seed), defect_rate=0.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    generate_portfolio(folder, clean())
    return folder


def read_file(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return list(csv.DictReader(path.open(encoding="utf-8", newline="")))


def read(folder: Path, source: str, feed: str) -> list[dict]:
    return [row for path in sorted((folder / source).glob(f"{feed}__*")) for row in read_file(path)]


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path, tiny):
    generate_portfolio(tmp_path / "again", clean())
    generate_portfolio(tmp_path / "other", clean(seed=4))
    assert digest(tmp_path / "again") == digest(tiny)
    assert digest(tmp_path / "other") != digest(tiny)


def test_the_number_of_worker_processes_does_not_change_the_bytes(tmp_path):
    spec = dataclasses.replace(PortfolioSpec.for_size("tiny", seed=5), studies=5)
    generate_portfolio(tmp_path / "one", spec, workers=1)
    generate_portfolio(tmp_path / "two", spec, workers=2)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")


def test_every_file_is_named_and_headed_as_the_contract_says(tiny):
    contract = load_contract()
    files = sorted(tiny.rglob("*__*"))
    assert {p.parent.name for p in files} == {"sponsor", "cro-acme", "cro-zenith"}
    for path in files:
        match = DELIVERY_NAME.match(path.name)
        assert match, path.name
        feed = contract.feed(source_side(path.parent.name)[0], match["feed"])
        if feed.format == "csv":
            assert path.read_text(encoding="utf-8").splitlines()[0].split(",") == feed.header_columns, path.name
        else:
            first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
            assert list(first)[: len(feed.header_columns)] == feed.header_columns, path.name


def test_no_delivery_is_empty_and_every_csv_row_has_the_header_s_columns(tiny):
    for path in sorted(tiny.rglob("*__*")):
        if path.suffix == ".jsonl":
            assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()], path.name
            continue
        rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
        assert len(rows) > 1, path.name
        assert all(len(row) == len(rows[0]) for row in rows), path.name


def extract_time(path: Path) -> datetime:
    return datetime.strptime(DELIVERY_NAME.match(path.name)["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def test_incremental_deliveries_are_a_backfill_then_what_changed(tiny):
    for feed in load_contract().feeds:
        if feed.kind != "incremental" or not feed.version_column:
            continue
        for source in ("sponsor",) if feed.side == "sponsor" else ("cro-acme", "cro-zenith"):
            previous = None
            for path in sorted((tiny / source).glob(f"{feed.name}__*")):
                rows = read_file(path)
                versions = [datetime.fromisoformat(row[feed.version_column]) for row in rows]
                assert all((previous is None or previous < version) and version <= extract_time(path) for version in versions), path
                keys = {tuple(row[column] for column in feed.version_key) for row in rows}
                assert len(keys) == len(rows), path  # each version once
                previous = extract_time(path)


def test_clean_sponsor_milestones_agree_with_the_cro_s_events(tiny):
    cros = ("cro-acme", "cro-zenith")
    study_of = {row["CroStudyRef"]: row["SponsorStudyId"] for cro in cros for row in read(tiny, cro, "studies")}
    site_of = {(row["CroStudyRef"], row["SiteCode"]): row["SponsorSiteNo"] for cro in cros for row in read(tiny, cro, "sites")}
    cro_siv = {(study_of[event["study"]], site_of[event["study"], event["site"]]): event["at"][:10]
               for cro in cros for event in read(tiny, cro, "events") if event["type"] == "SITE_SIV"}
    latest = sorted((tiny / "sponsor").glob("milestones__*"))[-1]
    sponsor_site_ready = {(row["study_id"], row["site_number"]): row["actual_date"] for row in read_file(latest)
                          if row["milestone"] == "SITE_READY" and row["actual_date"]}
    assert sponsor_site_ready
    assert sponsor_site_ready.items() <= cro_siv.items()


def test_cro_dates_are_dd_mmm_yyyy_and_sponsor_dates_iso(tiny):
    visit = read(tiny, "cro-acme", "visits")[0]
    assert datetime.strptime(visit["VisitDate"], "%d-%b-%Y")
    plan = read(tiny, "sponsor", "country_plan")[0]
    assert date.fromisoformat(plan["planned_country_ready"])


def test_clean_portfolio_tells_one_consistent_story(tiny):
    for cro in ("cro-acme", "cro-zenith"):
        events = read(tiny, cro, "events")
        by_type = defaultdict(dict)
        for event in events:
            key = event["subject"] or event["site"] or event["country"]
            by_type[event["type"]].setdefault(key, event["at"][:10])
        screened, randomized = by_type["SUBJ_SCREENED"], by_type["SUBJ_RANDOMIZED"]
        assert set(randomized) <= set(screened)
        assert len(screened) > len(randomized) > 0
        for visit in read(tiny, cro, "visits"):
            assert visit["SubjectId"] in screened
            if visit["SdvDate"]:
                assert datetime.strptime(visit["SdvDate"], "%d-%b-%Y") >= datetime.strptime(visit["VisitDate"], "%d-%b-%Y")
        first_siv = {}
        for event in events:
            if event["type"] == "SITE_SIV":
                first_siv[event["country"]] = min(first_siv.get(event["country"], "9"), event["at"][:10])
        for event in events:
            if event["type"] == "CTRY_READY" and event["country"] in first_siv:
                assert event["at"][:10] <= first_siv[event["country"]]
    sponsor_site_ready = {(r["study_id"], r["site_number"]): r["actual_date"] for r in read(tiny, "sponsor", "milestones")
                          if r["milestone"] == "SITE_READY" and r["actual_date"]}
    assert sponsor_site_ready


def test_defects_are_injected_and_counted(tmp_path):
    summary = generate_portfolio(tmp_path, dataclasses.replace(PortfolioSpec.for_size("tiny", seed=5), defect_rate=0.05))
    assert summary.defects["duplicate_row"] > 0
    assert summary.defects["milestone_disagreement"] > 0
    assert sum(summary.defects.values()) > 10
    assert any("," in row["Amount"] for row in read(tmp_path, "cro-acme", "site_payments") + read(tmp_path, "cro-zenith", "site_payments")) \
        == (summary.defects["bad_amount"] > 0)


def test_every_kind_of_defect_is_injected_and_counted_and_events_arrive_out_of_order(tmp_path):
    summary = generate_portfolio(tmp_path, dataclasses.replace(PortfolioSpec.for_size("demo", seed=5), defect_rate=0.05))
    assert set(summary.defects) == {
        "unknown_visit_code", "bad_date_format", "duplicate_key_conflict", "bad_amount", "duplicate_row", "file_delivered_twice",
        "correction", "void", "milestone_disagreement", "unknown_country_name", "late_randomization"}
    recorded = [[datetime.fromisoformat(event["recorded_at"]) for event in read_file(path)] for path in tmp_path.rglob("events__*")]
    assert any(moments != sorted(moments) for moments in recorded)
    assert any(event["supersedes"] for event in read(tmp_path, "cro-acme", "events") + read(tmp_path, "cro-zenith", "events"))


def test_the_summary_counts_what_was_written(tmp_path):
    summary = generate_portfolio(tmp_path, dataclasses.replace(PortfolioSpec.for_size("tiny", seed=5), defect_rate=0.05))
    files = sorted(tmp_path.rglob("*__*"))
    rows = Counter()
    for path in files:
        rows[(source_side(path.parent.name)[0], DELIVERY_NAME.match(path.name)["feed"])] += len(read_file(path))
    assert (summary.files, summary.bytes) == (len(files), sum(path.stat().st_size for path in files))
    assert summary.rows_by_feed == rows
    assert summary.sites > 0 and summary.subjects > summary.randomized > 0


def test_cli_helps_and_refuses_a_folder_that_holds_deliveries(tiny):
    command = [sys.executable, "-m", "workshop.synthetic"]
    help_text = subprocess.run([*command, "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--defect-rate" in help_text.stdout
    refused = subprocess.run([*command, "--size", "tiny", "--out", str(tiny)], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "already holds deliveries; pass --force" in refused.stderr


def test_start_up_packs_deviations_risks_and_close_out_look_real(tiny):
    # #16: pack items over realistic spans, deviations at a few per hundred visits with most
    # closed within weeks, a few risks per study, the close-out of ended studies on both sides.
    day = lambda event: date.fromisoformat(event["at"][:10])  # noqa: E731
    events = read(tiny, "cro-acme", "events") + read(tiny, "cro-zenith", "events")
    packs = defaultdict(dict)
    for event in events:
        if event["type"].startswith("SITE_"):
            packs[(event["study"], event["site"])].setdefault(event["type"], day(event))
    complete = [pack for pack in packs.values() if {"SITE_SELECTED", "SITE_IRB_OK", "SITE_CTA_SIGNED", "SITE_SYSTEMS_READY", "SITE_SIV"} <= set(pack)]
    assert complete
    for pack in complete:
        assert 30 <= (pack["SITE_IRB_OK"] - pack["SITE_SELECTED"]).days <= 90
        assert 60 <= (pack["SITE_CTA_SIGNED"] - pack["SITE_SELECTED"]).days <= 150
        assert pack["SITE_CTA_SIGNED"] <= pack["SITE_SYSTEMS_READY"] <= pack["SITE_SIV"]
        assert (pack["SITE_SIV"] - pack["SITE_SYSTEMS_READY"]).days <= 21

    opened = {e["deviation_id"]: e for e in events if e["type"] == "DEV_OPENED"}
    closed = {e["deviation_id"]: e for e in events if e["type"] == "DEV_CLOSED"}
    visits = len(read(tiny, "cro-acme", "visits")) + len(read(tiny, "cro-zenith", "visits"))
    assert 0.005 * visits <= len(opened) <= 0.08 * visits
    assert {e["severity"] for e in opened.values()} == {"IMPORTANT", "NOT_IMPORTANT"}
    assert set(closed) <= set(opened) and len(closed) >= 0.7 * len(opened)
    within_weeks = [d for d, e in closed.items() if (day(e) - day(opened[d])).days <= 45]
    assert len(within_weeks) >= 0.7 * len(closed)
    assert all("deviation_id" not in e and "severity" not in e for e in events if e["type"] in ("SITE_SIV", "SUBJ_SCREENED"))

    risks = Counter(e["study"] for e in events if e["type"] == "RISK_OPENED")
    assert risks and all(2 <= n <= 6 for n in risks.values())
    assert {e["severity"] for e in events if e["type"] == "RISK_OPENED"} <= {"LOW", "MEDIUM", "HIGH", "CRITICAL"}

    sponsor = read(tiny, "sponsor", "milestones")
    assert {"SITE_SEL", "SITE_IRB", "SITE_CTA", "SITE_SYS"} <= {row["milestone"] for row in sponsor}
    ended = {row["study_id"] for row in sponsor if row["milestone"] == "DB_LOCK" and row["actual_date"]}
    lpi = {row["study_id"] for row in sponsor if row["milestone"] == "LPI" and row["actual_date"]}
    assert ended <= lpi  # every ended study has its LPI on the sponsor side too
    assert {e["study"] for e in events if e["type"] == "DB_LOCK"} or not ended


def test_an_ended_study_has_its_close_out_sequence_on_both_sides():
    from workshop.synthetic.feeds import milestones
    from workshop.synthetic.world import simulate_study

    spec = PortfolioSpec.for_size("demo")
    (study,) = [s for s in (simulate_study(spec, i) for i in range(spec.studies)) if s.closed]
    records = {record.code: record.day for record in milestones(study)}
    last_randomized = max(subject.randomized for site in study.sites for subject in site.subjects
                          if subject.randomized and subject.randomized <= study.closed)
    # LPI, then DB lock at the end, TMF 30 and finance 45 days later (feeds.CLOSE_OUT)
    assert (records["LPI"], records["DB_LOCK"], records["TMF_RECON"], records["FIN_RECON"]) == (
        last_randomized, study.closed, study.closed + timedelta(days=30), study.closed + timedelta(days=45))
