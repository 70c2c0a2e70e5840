"""The synthetic portfolio generator: deterministic, in the contract's format, realistic
invariants on clean data, defects where asked for, and a usable CLI."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest

from orchestration.contract import DELIVERY_NAME, load_contract, source_side
from orchestration.synthetic import PortfolioSpec, generate_portfolio


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*__*"))}


def clean(seed=3):
    return dataclasses.replace(PortfolioSpec.for_size("tiny", seed=seed), defect_rate=0.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    generate_portfolio(folder, clean())
    return folder


def read(folder: Path, source: str, feed: str) -> list[dict]:
    rows = []
    for path in sorted((folder / source).glob(f"{feed}__*")):
        if path.suffix == ".jsonl":
            rows += [json.loads(line) for line in path.read_text().splitlines()]
        else:
            rows += list(csv.DictReader(path.open(encoding="utf-8")))
    return rows


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path, tiny):
    generate_portfolio(tmp_path / "again", clean())
    generate_portfolio(tmp_path / "other", clean(seed=4))
    assert digest(tmp_path / "again") == digest(tiny)
    assert digest(tmp_path / "other") != digest(tiny)


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


def test_cli_helps_and_refuses_a_folder_that_holds_deliveries(tiny):
    command = [sys.executable, "-m", "orchestration.synthetic"]
    help_text = subprocess.run([*command, "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "--defect-rate" in help_text.stdout
    refused = subprocess.run([*command, "--size", "tiny", "--out", str(tiny)], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "already holds deliveries; pass --force" in refused.stderr
