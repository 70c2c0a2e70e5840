"""Runtime settings, read from the environment once, with the documented defaults.

Relative paths are resolved against the project root, so commands behave the same from
any working directory."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# the dbt of this interpreter's environment, whether or not the environment is activated
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
# Who answers for the assets defined in Python (ingestion, audit, publishing); the dbt
# models' owners are declared in dbt_project.yml (`meta: dagster: owners`).
PIPELINE_OWNERS = ["team:data-engineering"]


def _path_from_env(name: str, default: str) -> Path:
    path = Path(os.environ.get(name) or default)
    return path if path.is_absolute() else PROJECT_ROOT / path


def _as_of_from_env() -> date | None:
    value = os.environ.get("CG_AS_OF", "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"CG_AS_OF={value!r} is not a date: use YYYY-MM-DD, or unset it") from None


def _cro_apis_from_env() -> dict[str, str]:
    """`CG_CRO_APIS=acme=https://api.acme.example/v1,zenith=...` -> {cro_id: base_url}."""
    apis = {}
    for entry in filter(None, (part.strip() for part in os.environ.get("CG_CRO_APIS", "").split(","))):
        cro_id, separator, base_url = entry.partition("=")
        if not separator or not cro_id.strip() or not base_url.strip():
            raise ValueError(f"CG_CRO_APIS entry {entry!r} is not <cro_id>=<base url>")
        apis[cro_id.strip()] = base_url.strip()
    return apis


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    archive_dir: Path
    warehouse: Path
    as_of: date | None
    reporting_currency: str
    api_state_dir: Path = PROJECT_ROOT / "data" / "api_state"
    quality_docs_dir: Path = PROJECT_ROOT / "data" / "quality_docs"  # GX Data Docs of every gate run
    publish_dir: Path = PROJECT_ROOT / "data" / "published"  # each audience's read-only view
    cro_apis: tuple[tuple[str, str], ...] = ()  # (cro_id, base_url) of CROs that deliver events by API

    @classmethod
    def from_env(cls) -> "Settings":
        currency = (os.environ.get("CG_REPORTING_CURRENCY") or "USD").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError(f"CG_REPORTING_CURRENCY={currency!r} is not an ISO 4217 code such as USD")
        return cls(
            landing_dir=_path_from_env("CG_LANDING_DIR", "data/landing"),
            archive_dir=_path_from_env("CG_ARCHIVE_DIR", "data/archive"),
            warehouse=_path_from_env("CG_WAREHOUSE", "data/warehouse.duckdb"),
            as_of=_as_of_from_env(),
            reporting_currency=currency,
            api_state_dir=_path_from_env("CG_API_STATE_DIR", "data/api_state"),
            quality_docs_dir=_path_from_env("CG_QUALITY_DOCS_DIR", "data/quality_docs"),
            publish_dir=_path_from_env("CG_PUBLISH_DIR", "data/published"),
            cro_apis=tuple(_cro_apis_from_env().items()),
        )

    def dbt_env(self) -> dict[str, str]:
        """Environment for dbt subprocesses: absolute paths, so dbt's own cwd does not matter."""
        return {
            "CG_WAREHOUSE": str(self.warehouse),
            "CG_AS_OF": self.as_of.isoformat() if self.as_of else "",
            "CG_REPORTING_CURRENCY": self.reporting_currency,
        }
