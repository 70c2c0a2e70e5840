"""A KPI's rows, the counts its evidence rows add up to, and the records, from one warehouse."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from cg_evidence.declarations import Evidence, relation


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple]


# The CLI's options, by the KPI key column each picks rows by.
OPTIONS = {"study_id": "study", "country_code": "country", "source": "source", "feed": "feed"}


def filters(evidence: Evidence, chosen: dict[str, str]) -> tuple[str, list]:
    """The `where` clause picking a KPI's rows by key columns (`chosen`: column -> value)."""
    for column in chosen:
        if column not in evidence.key:
            raise ValueError(f"{evidence.kpi} has one row per {', '.join(evidence.key)}: it takes no --{OPTIONS[column]}")
    if not chosen:
        return "true", []
    return " and ".join(f"{column} = ?" for column in chosen), list(chosen.values())


def fetch(con: duckdb.DuckDBPyConnection, sql: str, values: list) -> Table:
    cursor = con.execute(sql, values)
    return Table(tuple(column[0] for column in cursor.description), cursor.fetchall())


def kpi_rows(con, evidence: Evidence, chosen: dict[str, str]) -> Table:
    where, values = filters(evidence, chosen)
    return fetch(con, f"select * from {evidence.kpi_relation} where {where} order by all", values)


def evidence_counts(con, evidence: Evidence, chosen: dict[str, str] | None = None) -> Table:
    """The mart's measures recomputed from the evidence rows, one row per KPI row (a KPI
    row with no evidence gets the aggregates of no rows, as the mart gives it)."""
    key = ", ".join(f"kpi.{column}" for column in evidence.key)
    joined = " and ".join(f"kpi.{column} is not distinct from evidence.{column}" for column in evidence.key)
    measures = ", ".join(f"{expression} as {column}" for column, expression in evidence.measures)
    where, values = filters(evidence, chosen or {})
    return fetch(
        con,
        f"select {key}, {measures} from (select distinct {key} from {evidence.kpi_relation} as kpi where {where}) as kpi "
        f"left join {evidence.relation} as evidence on {joined} group by {key} order by {key}",
        values,
    )


def records(con, evidence: Evidence, chosen: dict[str, str]) -> Table:
    where, values = filters(evidence, chosen)
    return fetch(con, f"select * from {evidence.relation} where {where} order by all", values)


def as_of_date(con) -> str:
    return str(con.execute(f"select as_of_date from {relation('int_as_of_date')}").fetchone()[0])


def canonical_text(table: Table) -> str:
    """Tab-separated lines, header first, rows sorted, nulls empty: the same rows always
    give the same bytes."""
    lines = ["\t".join(table.columns)]
    lines += sorted("\t".join("" if value is None else str(value) for value in row) for row in table.rows)
    return "\n".join(lines) + "\n"


def rows_sha256(table: Table) -> str:
    return hashlib.sha256(canonical_text(table).encode()).hexdigest()
