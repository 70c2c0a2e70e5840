"""Dagster resources: where deliveries land and where the warehouse lives."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from orchestration.settings import DBT_EXECUTABLE, DBT_PROJECT_DIR, Settings
from orchestration.warehouse import connect


class LandingResource(dg.ConfigurableResource):
    """The landing root (one folder per source) and the immutable archive."""

    landing_dir: str
    archive_dir: str

    @property
    def landing_path(self) -> Path:
        return Path(self.landing_dir)

    @property
    def archive_path(self) -> Path:
        return Path(self.archive_dir)


class QualityDocsResource(dg.ConfigurableResource):
    """Where the gates write their GX Data Docs (static HTML, one page per gate run)."""

    docs_dir: str

    @property
    def docs_path(self) -> Path:
        return Path(self.docs_dir)


class PublishResource(dg.ConfigurableResource):
    """Where each audience's published files go (`CG_PUBLISH_DIR`)."""

    publish_dir: str

    @property
    def publish_path(self) -> Path:
        return Path(self.publish_dir)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. DuckDB allows one writing process at a time, so every
    asset that writes opens it only for the duration of its work."""

    path: str

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return connect(Path(self.path), read_only=read_only)


class WarehouseDbtResource(DbtCliResource):
    """dbt, with the warehouse's settings (`Settings.dbt_env`) in the environment of each
    invocation: profiles.yml and dbt_project.yml read them with `env_var`."""

    environment: dict[str, str] = {}

    def cli(self, args, **kwargs):
        with _environment_including(self.environment):
            return super().cli(args, **kwargs)


@contextmanager
def _environment_including(values: Mapping[str, str]) -> Iterator[None]:
    """dagster-dbt hands dbt a copy of `os.environ`, taken while the invocation starts."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "landing": LandingResource(landing_dir=str(settings.landing_dir), archive_dir=str(settings.archive_dir)),
        "warehouse": WarehouseResource(path=str(settings.warehouse)),
        "quality_docs": QualityDocsResource(docs_dir=str(settings.quality_docs_dir)),
        "publish": PublishResource(publish_dir=str(settings.publish_dir)),
        "dbt": WarehouseDbtResource(
            project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE, environment=settings.dbt_env()
        ),
    }
