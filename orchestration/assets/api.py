"""Pulling CRO events from their HTTP APIs into ordinary deliveries: one asset per CRO
configured in CG_CRO_APIS. The pulled file lands in the CRO's landing folder, where the
delivery sensor picks it up, so API events pass the same contract, gates and
de-duplication as files. The pull does not touch the warehouse (no pool needed), and an
API outage does not hold up file ingestion."""

from pathlib import Path

import dagster as dg

from orchestration.api.client import CroEventsClient, token_env_var
from orchestration.api.pull import pull_events
from orchestration.assets.raw import INGEST_GROUP
from orchestration.resources import LandingResource
from orchestration.settings import PIPELINE_OWNERS


class CroApiResource(dg.ConfigurableResource):
    """One CRO's events API. The token comes from an EnvVar, so the UI never shows it."""

    cro_id: str
    base_url: str
    token: str
    state_dir: str

    def client(self) -> CroEventsClient:
        return CroEventsClient(self.base_url, self.token, token_env_var=token_env_var(self.cro_id))


def api_resource_key(cro_id: str) -> str:
    return f"cro_api_{cro_id}"


def build_api_pull_asset(cro_id: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["landing", f"cro_{cro_id}__events_api"]),
        group_name=INGEST_GROUP,
        owners=PIPELINE_OWNERS,
        kinds={"api"},
        required_resource_keys={api_resource_key(cro_id), "landing"},
        description=f"New events from CRO {cro_id}'s API, written as a delivery into cro-{cro_id}/.",
    )
    def _pull(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        api: CroApiResource = getattr(context.resources, api_resource_key(cro_id))
        landing: LandingResource = context.resources.landing
        with api.client() as client:
            result = pull_events(client, landing.landing_path, cro_id, Path(api.state_dir))
        context.log.info(f"pulled {result.events} events in {result.pages} pages from CRO {cro_id}")
        return dg.MaterializeResult(
            metadata={
                "events": result.events,
                "pages": result.pages,
                "delivery": str(result.file) if result.file else "none (no new events)",
                "cursor_before": result.cursor_before or "start",
                "cursor_after": result.cursor_after or "start",
            }
        )

    return _pull


def build_api_resources(cro_apis: tuple[tuple[str, str], ...], state_dir: Path) -> dict[str, CroApiResource]:
    return {
        api_resource_key(cro_id): CroApiResource(
            cro_id=cro_id, base_url=base_url, token=dg.EnvVar(token_env_var(cro_id)), state_dir=str(state_dir)
        )
        for cro_id, base_url in cro_apis
    }
