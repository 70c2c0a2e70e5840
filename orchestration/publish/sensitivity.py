"""Sensitive values in gate results: the columns a relation declares sensitive in the dbt
YAML (a raw source's or a model's column `meta: sensitivity`, anything but `shared`),
and masking their values wherever a gate shows what it found (check metadata, Data Docs).
The rows held keep their values in the warehouse and in the sender's own receipt."""

from __future__ import annotations

from functools import cache

from orchestration.gates.suites import TYPED_SUFFIX
from orchestration.publish.policy import SHARED, sensitivity
from orchestration.settings import Settings

MASK = "***"
VALUE_KEYS = ("partial_unexpected_list", "unexpected_list")
COUNT_KEYS = ("partial_unexpected_counts",)
ROW_KEYS = ("partial_unexpected_index_list", "unexpected_index_list")


@cache
def _manifest() -> dict:
    from orchestration.assets.dbt import load_manifest  # parses the dbt project when it changed

    return load_manifest(Settings.from_env())


@cache
def sensitive_columns(suite_name: str) -> frozenset[str]:
    """`raw__<side>__<feed>` is the raw source `<side>__<feed>` (with the typed twins the
    gate compares); `conformed__<model>` and `marts__<model>` are the model."""
    layer, _, name = suite_name.partition("__")
    manifest = _manifest()
    if layer == "raw":
        nodes = [node for node in manifest["sources"].values() if node["source_name"] == "raw" and node["name"] == name]
    else:
        nodes = [node for node in manifest["nodes"].values() if node["resource_type"] == "model" and node["name"] == name]
    names = {column["name"] for node in nodes for column in node["columns"].values() if sensitivity(column) != SHARED}
    return frozenset(names | {name + TYPED_SUFFIX for name in names})


def mask_validation(validation, sensitive: frozenset[str]) -> None:
    """Mask, in place, the values a GX validation result shows for sensitive columns."""
    for item in validation.results:
        kwargs = item.expectation_config.kwargs
        columns = {kwargs.get(key) for key in ("column", "column_A", "column_B")} | set(kwargs.get("column_list", ()))
        if not columns & sensitive or not item.result:
            continue
        result = item.result
        for key in VALUE_KEYS:
            if result.get(key):
                result[key] = [MASK] * len(result[key])
        for key in COUNT_KEYS:
            if result.get(key):
                result[key] = [{"value": MASK, "count": sum(entry["count"] for entry in result[key])}]
        for key in ROW_KEYS:
            if result.get(key):
                result[key] = [_mask_row(row, sensitive) for row in result[key]]


def _mask_row(row, sensitive: frozenset[str]):
    if not isinstance(row, dict):
        return row
    return {name: MASK if name in sensitive else value for name, value in row.items()}
