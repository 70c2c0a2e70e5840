"""What each dashboard page reads from a published view: selections and sums over the
marts, never a KPI computed anew (the marts define them, docs/kpi-definitions.md).

Marts by study and country take the country filter; marts that carry both views
(`perspective` sponsor or cro) take the perspective filter, and those of one shared
view (`perspective = 'shared'`) are the same in both."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard.published import PublishedBuild

OVERDUE_BUCKETS = "unpaid_31_60 + unpaid_61_90 + unpaid_over_90"  # payable, unpaid for more than 30 days
# the worst share of rows accepted among a study's senders (the sponsor and its CRO)
QUALITY = """
    select study.study_id, min(sender.accepted_share) as worst_sender_accepted
    from dim_study as study
    inner join (
        select source, sum(rows_accepted) / nullif(sum(rows_accepted + rows_quarantined), 0) as accepted_share
        from kpi_data_quality group by source
    ) as sender on sender.source in ('sponsor', 'cro-' || study.cro_id)
    group by study.study_id
"""
NO_QUALITY = "select study_id, null::double as worst_sender_accepted from dim_study"  # a CRO's view has no kpi_data_quality


@dataclass(frozen=True)
class Filters:
    perspective: str  # sponsor or cro
    study_id: str | None = None
    country_code: str | None = None

    def where(self, *, country: bool = True, perspective: bool = False, study: bool = True) -> tuple[str, list]:
        clauses, parameters = ["true"], []
        if study and self.study_id:
            clauses.append("study_id = ?")
            parameters.append(self.study_id)
        if country and self.country_code:
            clauses.append("country_code = ?")
            parameters.append(self.country_code)
        if perspective:
            clauses.append("perspective in (?, 'shared')")
            parameters.append(self.perspective)
        return " and ".join(clauses), parameters


def default_perspective(audience: str) -> str:
    return "cro" if audience.startswith("cro-") else "sponsor"


def studies(view: PublishedBuild) -> pd.DataFrame:
    return view.query("select study_id, cro_id, therapeutic_area, phase, study_status from dim_study order by study_id")


def countries(view: PublishedBuild, study_id: str | None) -> list[str]:
    where = "where study_id = ?" if study_id else ""
    frame = view.query(f"select distinct country_code from fct_country_plan {where} order by 1", [study_id] if study_id else [])
    return list(frame["country_code"])


def portfolio(view: PublishedBuild, filters: Filters) -> pd.DataFrame:
    """One row per study: the raw figures behind each traffic light."""
    country, country_parameters = filters.where(study=False)
    both, both_parameters = filters.where(study=False, perspective=True)
    sql = f"""
        with startup as (
            select study_id, sum(sites_ready) as sites_ready, sum(sites_planned) as sites_planned
            from kpi_country_startup where {both} group by study_id
        ),
        latest_month as (
            select study_id, max(month) as month from kpi_enrollment_vs_plan group by study_id
        ),
        enrollment as (
            select plan.study_id, sum(plan.actual_randomized_cum) as randomized, sum(plan.planned_randomized_cum) as planned
            from kpi_enrollment_vs_plan as plan
            inner join latest_month on plan.study_id = latest_month.study_id and plan.month = latest_month.month
            where {country} group by plan.study_id
        ),
        sdv as (
            select study_id, sum(ctq_verified_within_sla) as within_sla, sum(ctq_visits_due) as due
            from kpi_verification_timeliness where {country} group by study_id
        ),
        burn as (
            select study_id, arg_max(burn_pct, month) as burn_pct, arg_max(month, month) as month
            from kpi_budget_burn group by study_id
        ),
        baseline as (
            select study_id, min(forecast_version) as forecast_version from fct_forecast group by study_id
        ),
        planned_burn as (
            select forecast.study_id, sum(forecast.amount_reporting) filter (where forecast.forecast_month <= burn.month)
                / nullif(sum(forecast.amount_reporting), 0) as planned_burn_pct
            from fct_forecast as forecast
            inner join baseline on forecast.study_id = baseline.study_id and forecast.forecast_version = baseline.forecast_version
            inner join burn on forecast.study_id = burn.study_id
            group by forecast.study_id
        ),
        payments as (
            select study_id, sum({OVERDUE_BUCKETS}) as overdue_amount from kpi_site_payment_status where {country} group by study_id
        ),
        deviations as (
            select study_id, sum(important_open) as important_open from kpi_deviations where {both} group by study_id
        ),
        risks as (
            select study_id, count(*) filter (where is_open and severity in ('HIGH', 'CRITICAL')) as high_risks_open
            from kpi_risks where {both} group by study_id
        ),
        quality as ({QUALITY if view.has_table("kpi_data_quality") else NO_QUALITY}),
        disagreements as (
            select study_id, count(*) filter (where status <> 'MATCH') as disagreements
            from rpt_milestone_discrepancies where {country} group by study_id
        )
        select
            study.study_id, study.cro_id, study.therapeutic_area,
            startup.sites_ready, startup.sites_planned,
            enrollment.randomized, enrollment.planned,
            sdv.within_sla, sdv.due,
            burn.burn_pct, planned_burn.planned_burn_pct,
            coalesce(payments.overdue_amount, 0) as overdue_amount,
            coalesce(deviations.important_open, 0) as important_open,
            coalesce(risks.high_risks_open, 0) as high_risks_open,
            quality.worst_sender_accepted,
            coalesce(disagreements.disagreements, 0) as disagreements
        from dim_study as study
        left join startup on study.study_id = startup.study_id
        left join enrollment on study.study_id = enrollment.study_id
        left join sdv on study.study_id = sdv.study_id
        left join burn on study.study_id = burn.study_id
        left join planned_burn on study.study_id = planned_burn.study_id
        left join payments on study.study_id = payments.study_id
        left join deviations on study.study_id = deviations.study_id
        left join risks on study.study_id = risks.study_id
        left join quality on study.study_id = quality.study_id
        left join disagreements on study.study_id = disagreements.study_id
        order by study.study_id
    """
    # the order of the placeholders above: startup, enrollment, sdv, payments, deviations, risks, disagreements
    parameters = [*both_parameters, *country_parameters, *country_parameters, *country_parameters,
                  *both_parameters, *both_parameters, *country_parameters]
    return view.query(sql, parameters)


def table(view: PublishedBuild, name: str, filters: Filters, *, country: bool = True, perspective: bool = False,
          order_by: str = "1") -> pd.DataFrame:
    where, parameters = filters.where(country=country, perspective=perspective)
    return view.query(f"select * from {name} where {where} order by {order_by}", parameters)


def both_views(view: PublishedBuild, name: str, keys: list[str], compared: list[str], filters: Filters) -> pd.DataFrame:
    """The sponsor's and the CRO's row side by side, one row per key, with `views_differ`;
    the rows that differ first."""
    where, parameters = filters.where()
    on = " and ".join(f"sponsor.{key} is not distinct from cro.{key}" for key in keys)
    key_columns = ", ".join(f"coalesce(sponsor.{key}, cro.{key}) as {key}" for key in keys)
    side_columns = ", ".join(f"sponsor.{column} as {column}_sponsor, cro.{column} as {column}_cro" for column in compared)
    differ = " or ".join(f"sponsor.{column} is distinct from cro.{column}" for column in compared)
    sql = f"""
        with sponsor as (select * from {name} where perspective = 'sponsor' and {where}),
        cro as (select * from {name} where perspective = 'cro' and {where})
        select {key_columns}, {side_columns}, ({differ}) as views_differ
        from sponsor full outer join cro on {on}
        order by views_differ desc, {", ".join(keys)}
    """
    return view.query(sql, [*parameters, *parameters])


def enrollment(view: PublishedBuild, filters: Filters) -> pd.DataFrame:
    return table(view, "kpi_enrollment_vs_plan", filters, order_by="country_code, month")


def accruals(view: PublishedBuild, filters: Filters) -> pd.DataFrame:
    """Accrued amounts by month and cost bucket; the CRO's own internal cost where its
    view has that column (the sponsor's has not: the publish policy leaves it out)."""
    internal = ", sum(internal_cost) as internal_cost" if "internal_cost" in view.columns("fct_accruals") else ""
    where, parameters = filters.where(country=False)
    return view.query(
        f"select accrual_month, cost_bucket_code, currency, sum(amount) as amount, sum(amount_reporting) as amount_reporting"
        f"{internal} from fct_accruals where {where} group by all order by all",
        parameters,
    )


def data_quality(view: PublishedBuild, source: str | None) -> pd.DataFrame:
    where, parameters = ("where source = ?", [source]) if source else ("", [])
    return view.query(f"select * from kpi_data_quality {where} order by source, feed, month", parameters)


def quarantined_by_reason(view: PublishedBuild, source: str | None) -> pd.DataFrame:
    where, parameters = ("where source = ?", [source]) if source else ("", [])
    return view.query(
        f"select strftime(extract_at, '%Y-%m') as month, source, feed, stage, rule, count(*) as rows_held "
        f"from quarantined_rows {where} group by all order by all",
        parameters,
    )


def governance_table(view: PublishedBuild, name: str, source: str | None) -> pd.DataFrame:
    where, parameters = ("where source = ?", [source]) if source else ("", [])
    return view.query(f"select * from {name} {where} order by all", parameters)


def senders(view: PublishedBuild) -> list[str]:
    return list(view.query("select distinct source from kpi_data_quality order by 1")["source"])
