"""dbt tests on the large incremental models read the rows of the newest build only
(`config: where: __newest_build__`, dbt_project/macros/tests.sql), so a weekly delivery
does not test all history.

On the KPI fixture built once, every row of `intermediate.int_cro__visits` has the same
`_built_at`. Two rows are then broken by hand (`visit_code` set to null, which its
`not_null` test catches):
- one moved to an earlier build (`_built_at` a day earlier): history, not tested, so the
  test passes;
- then one of the newest build: the test fails, on exactly that 1 row.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from orchestration.settings import DBT_EXECUTABLE
from orchestration.warehouse import connect
from test_incremental import build, copy_project, deliver, fixture_files

NOT_NULL_TEST = "not_null_int_cro__visits_visit_code"


def run_test(project: Path, warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DBT_EXECUTABLE, "test", "--select", NOT_NULL_TEST, "--project-dir", str(project), "--profiles-dir", str(project)],
        env={**os.environ, "CG_WAREHOUSE": str(warehouse), "CG_AS_OF": ""}, capture_output=True, text=True,
    )


def break_one_visit(warehouse: Path, earlier_build: bool) -> None:
    shift = "_built_at - interval 1 day" if earlier_build else "_built_at"
    with connect(warehouse) as con:
        con.execute(f"""
            update intermediate.int_cro__visits set visit_code = null, _built_at = {shift}
            where (_delivery_id, _row_number) = (
                select (_delivery_id, _row_number) from intermediate.int_cro__visits
                where visit_code is not null order by all limit 1)
        """)


def test_a_test_on_an_incremental_model_reads_the_newest_build_only(tmp_path):
    project = copy_project(tmp_path)
    warehouse = deliver(tmp_path, fixture_files(True) + fixture_files(False))
    build(project, warehouse)

    break_one_visit(warehouse, earlier_build=True)
    history_broken = run_test(project, warehouse)
    break_one_visit(warehouse, earlier_build=False)
    newest_broken = run_test(project, warehouse)

    assert history_broken.returncode == 0, history_broken.stdout[-3000:]
    assert newest_broken.returncode == 1
    assert f"Failure in test {NOT_NULL_TEST}" in newest_broken.stdout
    assert "Got 1 result, configured to fail if != 0" in newest_broken.stdout
