"""Great Expectations 1.24 on DuckDB through its SQL engine: the workarounds, kept here
and nowhere else, and the SQL datasource that validates tables of the caller's own
DuckDB connection (a delivery's temporary table is visible to that connection only).

Three defects are worked around; `tests/test_gx_duckdb.py` fails the day GX or
duckdb-engine fixes one, so its workaround can be removed then:

- `SqlAlchemyExecutionEngine.execute_query` returns its cursor result after leaving the
  connection's `with` block, and duckdb-engine's unbuffered cursor then has no rows:
  every expectation errors with `MetricResolutionError: list index out of range`. The
  result is buffered inside the block (`shared/stack-notes.md`, copied into
  `docs/performance.md`).
- `expect_column_values_to_match_regex` knows no DuckDB dialect ("Regex is not
  supported for dialect duckdb"): GX gives DuckDB no dialect module, so its regex
  builder matches none. DuckDB's `regexp_matches` is used (RE2, the same syntax as the
  suites' regexes, which are anchored with ^ and $).
- duckdb-engine 0.17 quotes DuckDB's reserved keywords only, but DuckDB 2 also refuses
  its `type_function` keywords as bare column names: the CRO events' `at` column made
  every query GX built on that suite a syntax error. Those keywords are quoted too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

DATASOURCE = "common_ground"
_bound: list[duckdb.DuckDBPyConnection] = []  # the connection the GX engine runs on now


@contextmanager
def bound_to(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Every query GX runs inside this block runs on `con`."""
    _bound.append(con)
    try:
        yield
    finally:
        _bound.pop()


def add_datasource(context):
    """The SQL datasource whose every connection is the bound DuckDB connection, borrowed:
    GX closing it leaves it open, and returning it to the pool does not roll it back."""
    from sqlalchemy.pool import NullPool

    apply_workarounds()
    return context.data_sources.add_sql(
        DATASOURCE,
        connection_string="duckdb://",
        kwargs={"creator": _borrow_bound, "poolclass": NullPool, "pool_reset_on_return": None},
    )


def _borrow_bound():
    from duckdb_engine import ConnectionWrapper

    class Borrowed(ConnectionWrapper):
        def close(self) -> None:
            self.closed = True

    if not _bound:
        raise RuntimeError("GX ran a query outside `bound_to(con)`: validate through orchestration.gates.validate")
    return Borrowed(_bound[-1])


def apply_workarounds() -> None:
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module
    from great_expectations.expectations.metrics.column_map_metrics import column_values_match_regex as regex_module

    engine_module.SqlAlchemyExecutionEngine.execute_query = _buffered_execute_query
    _quote_type_function_keywords()
    if regex_module.get_dialect_regex_expression is not _regex_expression:
        _regex_expression.shipped = regex_module.get_dialect_regex_expression
        regex_module.get_dialect_regex_expression = _regex_expression


def _quote_type_function_keywords() -> None:
    from duckdb_engine import DuckDBIdentifierPreparer

    if getattr(DuckDBIdentifierPreparer, "quotes_type_function_keywords", False):
        return
    shipped_init = DuckDBIdentifierPreparer.__init__

    def __init__(self, dialect, **kwargs):
        shipped_init(self, dialect, **kwargs)
        self.reserved_words = self.reserved_words | _keywords("type_function")

    DuckDBIdentifierPreparer.__init__ = __init__
    DuckDBIdentifierPreparer.quotes_type_function_keywords = True


def _keywords(category: str) -> set[str]:
    found = duckdb.execute("select keyword_name from duckdb_keywords() where keyword_category = ?", [category]).fetchall()
    return {keyword for (keyword,) in found}


def _buffered_execute_query(self, query):
    with self.get_connection() as connection:
        return self._execute_query_with_recovery(connection, query).freeze()()


def _regex_expression(column, regex, dialect, positive=True):
    import sqlalchemy as sa

    found = _regex_expression.shipped(column, regex, dialect, positive)
    if found is not None:
        return found
    matches = sa.func.regexp_matches(column, sa.literal(regex))
    return matches if positive else sa.not_(matches)
