"""What each audience may read, from the governed policy (`dbt_project/publish_policy.yml`)
and the dbt manifest: a model's `meta.audience` says who it is for, a column's
`meta.sensitivity` how sensitive it is. A model without an audience is published to
nobody, a column without a sensitivity is `shared`, and a column a model does not
declare is never published."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestration.settings import DBT_PROJECT_DIR

POLICY_FILE = DBT_PROJECT_DIR / "publish_policy.yml"
SHARED = "shared"
ROW_SCOPE_COLUMN = "study_id"  # what a CRO's row filter selects on
CRO_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # as in the landing folders cro-<id>


class PolicyError(ValueError):
    """The policy cannot be applied as written; nothing is published."""


@dataclass(frozen=True)
class PublishedTable:
    name: str
    relation: str  # "schema"."table" in the warehouse
    columns: tuple[str, ...]
    row_filter: str | None  # a SQL condition with the audience's parameters, or None for every row


@dataclass(frozen=True)
class Audience:
    name: str  # sponsor, governance, cro-<id>: the published file's name
    tables: tuple[PublishedTable, ...]
    parameters: tuple[tuple[str, str], ...] = ()  # bound to the row filters, e.g. (("cro_id", "acme"),)
    cro_id: str | None = None


def load_policy(path: Path = POLICY_FILE) -> dict:
    policy = yaml.safe_load(path.read_text())
    if not isinstance(policy.get("retention_days"), int) or policy["retention_days"] < 0:
        raise PolicyError(f"{path}: retention_days must be a whole number of days")
    return policy


def sensitivity(column: dict) -> str:
    meta = column.get("config", {}).get("meta") or column.get("meta") or {}
    return meta.get("sensitivity", SHARED)


def model_meta(node: dict) -> dict:
    return node.get("config", {}).get("meta") or node.get("meta") or {}


def audience_kinds(policy: dict) -> list[str]:
    return list(policy["audiences"])


def models_for(kind: str, manifest: dict) -> list[dict]:
    """The model nodes whose `meta.audience` names this audience kind, by name."""
    nodes = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    return sorted((node for node in nodes if kind in (model_meta(node).get("audience") or [])), key=lambda node: node["name"])


def published_tables(kind: str, manifest: dict, policy: dict) -> tuple[PublishedTable, ...]:
    rules = policy["audiences"][kind]
    excluded = set(rules.get("exclude_sensitivity") or [])
    tables = []
    for node in models_for(kind, manifest):
        columns = tuple(name for name, column in node["columns"].items() if sensitivity(column) not in excluded)
        if not columns:
            raise PolicyError(f"model {node['name']} is for {kind} but declares no column it may see: document its columns")
        tables.append(
            PublishedTable(
                name=node["alias"],
                relation=f'"{node["schema"]}"."{node["alias"]}"',
                columns=columns,
                row_filter=_row_filter(node, columns, rules.get("row_filter")),
            )
        )
    return tuple(tables)


def _row_filter(node: dict, columns: tuple[str, ...], row_filter: str | None) -> str | None:
    if row_filter is None or model_meta(node).get("reference_data"):
        return None
    if ROW_SCOPE_COLUMN not in columns:
        raise PolicyError(
            f"model {node['name']} has no {ROW_SCOPE_COLUMN} to filter its rows by; "
            "mark it `reference_data: true` in its meta if every audience may read all of it"
        )
    return row_filter


def audiences(manifest: dict, policy: dict, kind: str, cro_ids: list[str]) -> list[Audience]:
    """The audiences of one kind of the policy: one, or one per CRO for `per_cro`."""
    tables = published_tables(kind, manifest, policy)
    if not policy["audiences"][kind].get("per_cro"):
        return [Audience(name=kind, tables=tables)]
    for cro_id in cro_ids:
        if not CRO_ID.match(cro_id):
            raise PolicyError(f"CRO id {cro_id!r} cannot name a published file: use lower-case letters, digits, - and _")
    return [
        Audience(name=f"cro-{cro_id}", tables=tables, parameters=(("cro_id", cro_id),), cro_id=cro_id)
        for cro_id in sorted(cro_ids)
    ]
