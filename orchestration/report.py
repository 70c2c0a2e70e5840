"""Readable summaries of the warehouse for people at a terminal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from orchestration.warehouse import connect

INGEST_SUMMARY = """
select
    source,
    count(*) filter (where status = 'loaded') as loaded,
    count(*) filter (where status = 'duplicate') as duplicate,
    count(*) filter (where status = 'rejected') as rejected,
    sum(rows_loaded) as rows_loaded,
    sum(rows_malformed) as rows_malformed
from audit.delivery_ledger
group by source
order by source
"""

STARTUP_SUMMARY = """
select
    study_id,
    perspective,
    count(*) as countries,
    count(country_ready_date) as countries_ready,
    sum(sites_ready) as sites_ready,
    sum(sites_planned) as sites_planned,
    median(days_country_ready_to_first_site_ready) as median_days_ready_to_first_site,
    median(days_first_site_ready_to_fpi) as median_days_first_site_to_fpi,
    count(*) filter (where is_country_ready_to_first_site_ready_open) as open_ready_to_site
from marts.kpi_country_startup
group by study_id, perspective
order by study_id, perspective
"""


def summary(warehouse: Path) -> str:
    with connect(warehouse, read_only=True) as con:
        as_of = con.execute("select as_of_date from intermediate.int_as_of_date").fetchall()[0][0]
        ingest = con.execute(INGEST_SUMMARY).df()
        startup = con.execute(STARTUP_SUMMARY).df()
        rejections = con.execute(
            "select source || '/' || file_name as delivery, reason from audit.delivery_ledger "
            "where status = 'rejected' order by extract_at, source, file_name"
        ).df()
    parts = [
        f"Warehouse {warehouse} (as of {as_of})",
        _section("Deliveries by source", ingest),
        _section("Country start-up (marts.kpi_country_startup), per study and perspective", startup),
    ]
    if not rejections.empty:
        parts.append(_section("Rejected deliveries", rejections))
    return "\n\n".join(parts)


def _section(title: str, frame: pd.DataFrame) -> str:
    body = frame.to_string(index=False, na_rep="-", float_format=lambda value: f"{value:,.1f}")
    return f"{title}\n{'-' * len(title)}\n{body}"
