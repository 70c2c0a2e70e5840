"""GX 1.24 on DuckDB through its SQL engine (orchestration/gates/gx_duckdb.py).

Two-sided on purpose: a gate on a real DuckDB table gives the counts and rows worked out
by hand below, with the workarounds; and GX as shipped still fails on the same table
without them, so the day a GX release fixes either defect this test says so, and the
workaround goes.

The table, ten rows (`_row_number` 1..10):
- `code`: null in rows 3 and 7                      -> not null: 2 unexpected, rows 3, 7
- `day`:  '03/11/2026' in rows 2, 5, 9, else ISO    -> regex: 3 unexpected, rows 2, 5, 9
- `ref`:  'dup' in rows 4 and 6, else 'r<n>'      -> unique: 2 unexpected, rows 4, 6
- `site`: 'A' everywhere but row 6 ('B'), so (`site`, `code`) is ('A', 'C') in the 7
  rows 1, 2, 4, 5, 8, 9, 10; ('A', null) in rows 3 and 7 is never a duplicate (a null
  never equals, GX's SQL rule) -> compound unique: 7 unexpected
- `amount`: row number * 10, so 90 and 100 in rows 9, 10 -> at most 80: 2 unexpected
- `sdv` before `visit` in row 8 only               -> pair: 1 unexpected, row 8
- `status` 'X' in row 1, else 'OK'                  -> in set: 1 unexpected, row 1
- `at` (a DuckDB keyword, a CRO events column): null in row 10 -> not null: 1, row 10
"""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest

from orchestration.gates.suites import Suite
from orchestration.gates.validate import validate

TABLE = """
create temp table gate_fixture as
select
    n as _row_number,
    case when n in (3, 7) then null else 'C' end as code,
    case when n in (2, 5, 9) then '03/11/2026' else '2026-11-03' end as day,
    case when n in (4, 6) then 'dup' else 'r' || n end as ref,
    case when n = 6 then 'B' else 'A' end as site,
    n * 10.0 as amount,
    date '2026-11-03' as visit,
    case when n = 8 then date '2026-11-01' else date '2026-11-04' end as sdv,
    case when n = 1 then 'X' else 'OK' end as status,
    case when n = 10 then null else 'then' end as "at"
from range(1, 11) as t(n)
"""
EXPECTATIONS = [
    ("expect_column_values_to_not_be_null", {"column": "code"}, "missing_value"),
    ("expect_column_values_to_match_regex", {"column": "day", "regex": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}, "invalid_format"),
    ("expect_column_values_to_be_unique", {"column": "ref"}, "duplicate_key"),
    ("expect_compound_columns_to_be_unique", {"column_list": ["site", "code"]}, "duplicate_key"),
    ("expect_column_values_to_be_between", {"column": "amount", "max_value": 80}, "out_of_range"),
    ("expect_column_pair_values_a_to_be_greater_than_b",
     {"column_A": "sdv", "column_B": "visit", "or_equal": True, "ignore_row_if": "either_value_is_missing"}, "out_of_order"),
    ("expect_column_values_to_be_in_set", {"column": "status", "value_set": ["OK"]}, "unknown_code"),
    ("expect_column_values_to_not_be_null", {"column": "at"}, "missing_value"),
]


def fixture_suite() -> Suite:
    expectations = [
        {"type": kind, "kwargs": kwargs, "meta": {"reason": reason, "message": reason}, "severity": "critical"}
        for kind, kwargs, reason in EXPECTATIONS
    ]
    return Suite("fixture__gx_duckdb", {"name": "fixture__gx_duckdb", "expectations": expectations, "meta": {}})


def test_with_the_workarounds_gx_counts_every_failing_row_of_a_duckdb_table(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(TABLE)

    result = validate(con, "gate_fixture", fixture_suite(), "fixture", tmp_path / "docs", row_ids=True)

    found = sorted((o.expectation, o.unexpected_count, o.row_numbers, o.error) for o in result.outcomes)
    assert found == sorted([
        ("expect_column_values_to_not_be_null", 2, (3, 7), None),
        ("expect_column_values_to_match_regex", 3, (2, 5, 9), None),
        ("expect_column_values_to_be_unique", 2, (4, 6), None),
        ("expect_compound_columns_to_be_unique", 7, (1, 2, 4, 5, 8, 9, 10), None),
        ("expect_column_values_to_be_between", 2, (9, 10), None),
        ("expect_column_pair_values_a_to_be_greater_than_b", 1, (8,), None),
        ("expect_column_values_to_be_in_set", 1, (1,), None),
        ("expect_column_values_to_not_be_null", 1, (10,), None),
    ])
    assert result.rows == 10
    assert con.execute("select count(*) from gate_fixture").fetchall() == [(10,)]  # GX left the connection usable


SHIPPED_GX = f"""
import json, sys, duckdb, great_expectations as gx
path = sys.argv[1]
con = duckdb.connect(path)
con.execute({TABLE!r}.replace("temp table", "table"))
con.close()
context = gx.get_context(mode="ephemeral")
source = context.data_sources.add_sql("s", connection_string="duckdb:///" + path)
batch = source.add_table_asset("t", table_name="gate_fixture").add_batch_definition_whole_table("b")
suite = context.suites.add(gx.ExpectationSuite(name="s", expectations=[
    gx.expectations.ExpectColumnValuesToNotBeNull(column="code"),
]))
definition = context.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
from orchestration.gates.validate import raised_error
print(json.dumps([raised_error(item.exception_info) for item in definition.run().results]))
import sqlalchemy as sa
from great_expectations.expectations.metrics.column_map_metrics import column_values_match_regex as module
print(json.dumps(module.get_dialect_regex_expression(sa.column("day"), "^x$", None) is None))
import duckdb_engine
print(json.dumps(duckdb_engine.Dialect().identifier_preparer.quote("at")))
"""


@pytest.mark.parametrize("defect", ["unbuffered result", "no regex for duckdb", "keyword column unquoted"])
def test_gx_as_shipped_still_needs_each_workaround(defect, tmp_path):
    """If this fails, GX fixed the defect: remove its workaround from gx_duckdb.py."""
    database = str(tmp_path / "shipped.duckdb")
    run = subprocess.run([sys.executable, "-c", SHIPPED_GX, database], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    errors, no_regex, quoted_at = (json.loads(line) for line in run.stdout.strip().splitlines()[-3:])
    if defect == "unbuffered result":
        assert errors == ["list index out of range"], f"GX now evaluates on DuckDB unpatched ({errors}): remove _buffered_execute_query"
    elif defect == "no regex for duckdb":
        assert no_regex, "GX now builds regexes for DuckDB: remove _regex_expression"
    else:
        assert quoted_at == "at", "duckdb-engine now quotes DuckDB's type_function keywords: remove _quote_type_function_keywords"
