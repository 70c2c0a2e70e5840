"""What each evidence model declares (`meta: evidence` in dbt_project/models/marts/evidence/
_evidence.yml): the KPI mart it explains, the mart's row key and, per measure, the
aggregate over its rows that gives the mart's value. Read from the dbt manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Evidence:
    model: str
    kpi: str
    key: tuple[str, ...]
    measures: tuple[tuple[str, str], ...]  # (mart column, aggregate over the evidence rows)
    relation: str
    kpi_relation: str


@cache
def model_nodes() -> dict[str, dict]:
    from orchestration.assets.dbt import load_manifest  # parses the dbt project when it changed
    from orchestration.settings import Settings

    nodes = load_manifest(Settings.from_env())["nodes"].values()
    return {node["name"]: node for node in nodes if node["resource_type"] == "model"}


def _relation(node: dict) -> str:
    return f"{node['schema']}.{node['alias']}"


def relation(model: str) -> str:
    return _relation(model_nodes()[model])


def evidence_models() -> dict[str, Evidence]:
    """Every evidence model, by the KPI mart it explains."""
    found = {}
    for node in model_nodes().values():
        declared = node["config"].get("meta", {}).get("evidence")
        if declared:
            found[declared["kpi"]] = Evidence(
                model=node["name"], kpi=declared["kpi"], key=tuple(declared["key"]),
                measures=tuple(declared["measures"].items()), relation=_relation(node),
                kpi_relation=relation(declared["kpi"]),
            )
    return dict(sorted(found.items()))


def kpi_marts() -> list[str]:
    """Every KPI mart: the models under models/marts/kpi/, each of which needs an evidence model."""
    return sorted(name for name, node in model_nodes().items() if node["original_file_path"].startswith("models/marts/kpi/"))
