"""The dashboard pages: Portfolio and Study (sponsor and CRO audiences), Data quality &
governance (governance audience). Every table is drawn as text a reader can select
(one HTML table) with a CSV download of all its rows beside it.

What a page view costs is kept small, since a Study page draws a dozen tables and three
charts: tables go to the browser as HTML formatted here (st.table draws each cell as
Markdown, and a pandas Styler costs a few tenths of a second a table to marshal), and the
charts are declared once, with Altair, when the module is imported (Altair
validates a chart against the Vega-Lite schema, about 0.2 s a chart), then drawn with
each page's data."""

from __future__ import annotations

import os
from html import escape

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.published import PublishedBuild
from dashboard.queries import Filters
from dashboard.status import AMBER, GREEN, NONE, RED, light

CURRENCY = (os.environ.get("CG_REPORTING_CURRENCY") or "USD").strip().upper()  # as the pipeline that built the view
# rows of a table drawn on the page: drawing hundreds of rows costs the browser seconds (a
# large study has hundreds of sites and milestones); the CSV always holds them all
ROWS_SHOWN = 25
STUDIES_PER_PAGE = 50  # the portfolio's studies, in pages


# Formatting ---------------------------------------------------------------------------


def ratio(part, whole) -> float | None:
    return None if pd.isna(whole) or whole == 0 or pd.isna(part) else float(part) / float(whole)


def percent(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.1%}"


def fmt_count(value) -> str:
    return "0" if pd.isna(value) else f"{int(value)}"


def cell_text(value) -> str:
    """A value as the tables show it: decimals of a float to two places, nothing for a null."""
    if pd.isna(value):
        return ""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


TABLE_STYLE = """<style>
div.cg-table-frame { overflow-x: auto; margin-bottom: 0.5rem; }
table.cg-table { border-collapse: collapse; min-width: 100%; font-size: 0.875rem; }
table.cg-table th, table.cg-table td { border: 1px solid rgba(49, 51, 63, 0.1); padding: 0.25rem 0.375rem; text-align: left; vertical-align: top; }
table.cg-table td { white-space: nowrap; }
table.cg-table th { font-weight: 600; color: rgba(49, 51, 63, 0.8); }
table.cg-table tr.highlighted td { background-color: #fde2b3; }
</style>"""


def draw_table(frame: pd.DataFrame, highlight: str | None) -> None:
    """The rows as one HTML table: a browser draws hundreds of plain cells at once, where
    st.table draws each cell as Markdown (seconds for a page of a dozen tables)."""
    marked = frame[highlight].tolist() if highlight else [False] * len(frame)
    header = "".join(f"<th>{escape(str(column))}</th>" for column in frame.columns)
    body = "".join(
        f"<tr{' class=highlighted' if mark else ''}>" + "".join(f"<td>{escape(cell_text(value))}</td>" for value in values) + "</tr>"
        for mark, values in zip(marked, frame.itertuples(index=False, name=None))
    )
    st.html(f'<div class="cg-table-frame"><table class="cg-table"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>')


def show_table(title: str, frame: pd.DataFrame, key: str, caption: str | None = None, highlight: str | None = None,
               first: int = 0, rows: int = ROWS_SHOWN) -> None:
    """The table's rows `first` to `first + rows` on the page, all of them in its CSV."""
    st.subheader(title)
    if "perspective" in frame and set(frame["perspective"]) == {"shared"}:  # a mart of one view: nothing to tell apart
        frame = frame.drop(columns="perspective")
    if caption:
        st.caption(caption)
    if frame.empty:
        st.info("Nothing to show for these filters.")
    else:
        if len(frame) > rows:
            st.caption(f"Rows {first + 1} to {min(first + rows, len(frame))} of {len(frame):,}; the CSV holds them all.")
        draw_table(frame.iloc[first:first + rows].reset_index(drop=True), highlight)
    st.download_button(  # the CSV is written when the button is clicked, not on every page view
        f"Download CSV: {title}", lambda: frame.to_csv(index=False).encode(), file_name=f"{key}.csv", mime="text/csv",
        key=f"csv-{key}", on_click="ignore",
    )


def line_chart(title: str, x: str, x_title: str, y: str, y_title: str, color: str, color_title: str,
               dash: str | None = None, dash_title: str | None = None) -> dict:
    """A line chart's Vega-Lite spec, its data left to each page view; one series a colour
    (and a dash pattern)."""
    encoding = {
        "x": alt.X(f"{x}:O", title=x_title),
        "y": alt.Y(f"{y}:Q", title=y_title),
        "color": alt.Color(f"{color}:N", title=color_title),
        "tooltip": [f"{x}:O", f"{color}:N", f"{y}:Q"] + ([f"{dash}:N"] if dash else []),
    }
    if dash:
        encoding["strokeDash"] = alt.StrokeDash(f"{dash}:N", title=dash_title)
    return spec_of(alt.Chart(title=title).mark_line(point=True).encode(**encoding))


def monthly_bars_per_sender(title: str, y: str, y_title: str, color: str, color_title: str, tooltip: list[str]) -> dict:
    """Bars by month of extract, one beside the other per sender."""
    return spec_of(alt.Chart(title=title).mark_bar().encode(
        x=alt.X("month:O", title="Month of extract (YYYY-MM)"),
        xOffset=alt.XOffset("source:N"),
        y=alt.Y(y, title=y_title),
        color=alt.Color(f"{color}:N", title=color_title),
        tooltip=tooltip,
    ))


def spec_of(chart: alt.Chart) -> dict:
    return {**chart.to_dict(), "data": {"name": "rows"}}


def draw_chart(spec: dict, frame: pd.DataFrame) -> None:
    st.vega_lite_chart(spec={**spec, "datasets": {"rows": frame}}, width="stretch")  # the page view's rows, as Arrow


ENROLLMENT_CHART = line_chart(
    "Enrollment vs plan by country (subjects randomized, cumulative)", "month", "Month (YYYY-MM)",
    "subjects", "Subjects randomized, cumulative", "country_code", "Country", "series", "Series")
BURN_CHART = line_chart(f"Budget burn with the forecast ({CURRENCY})", "month", "Month (YYYY-MM)", "amount",
                        f"Amount ({CURRENCY})", "series", "Series")
COVERAGE_CHART = line_chart(f"Accrual coverage: accrued, invoiced and paid, cumulative ({CURRENCY})", "month",
                            "Month (YYYY-MM)", "amount", f"Amount ({CURRENCY})", "series", "Series")
ACCEPTED_CHART = monthly_bars_per_sender(
    "Rows accepted per sender, by month of extract", "rows_accepted:Q", "Rows accepted (records)", "source", "Sender",
    ["source:N", "month:O", "rows_accepted:Q", "rows_quarantined:Q"])
HELD_CHART = monthly_bars_per_sender(
    "Rows held by reason, by month of extract (bars side by side per sender)", "sum(rows_held):Q",
    "Rows held (records)", "rule", "Reason (rule)", ["month:O", "source:N", "feed:N", "stage:N", "rule:N", "rows_held:Q"])


LIGHTS = {GREEN: "on track", AMBER: "watch", RED: "act", NONE: "nothing to measure yet"}
LIGHTS_CHART = spec_of(alt.Chart(title="Studies by traffic light, per signal").mark_bar().encode(
    y=alt.Y("signal:N", title=None, sort=None, axis=alt.Axis(labelLimit=400)),
    x=alt.X("count():Q", title="Studies", axis=alt.Axis(tickMinStep=1, format="d")),
    color=alt.Color("light:N", title="Traffic light", sort=list(LIGHTS.values()),
                    scale=alt.Scale(domain=list(LIGHTS.values()), range=["#2e9e4f", "#f2b600", "#d93025", "#c4c4c4"])),
    order=alt.Order("order:Q"),
    tooltip=["signal:N", "light:N", "count():Q"],
))


# Portfolio ----------------------------------------------------------------------------


def portfolio_table(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for row in frame.itertuples():
        startup = ratio(row.sites_ready, row.sites_planned)
        enrolled = ratio(row.randomized, row.planned)
        sdv = ratio(row.within_sla, row.due)
        burn_gap = None if pd.isna(row.burn_pct) or pd.isna(row.planned_burn_pct) else abs(float(row.burn_pct) - float(row.planned_burn_pct))
        rows.append({
            "study": row.study_id,
            "CRO": row.cro_id,
            "start-up: sites ready / planned": f"{light('startup', startup)} {fmt_count(row.sites_ready)} / {fmt_count(row.sites_planned)}",
            "randomized / planned": f"{light('enrollment', enrolled)} {fmt_count(row.randomized)} / {fmt_count(row.planned)} ({percent(enrolled)})",
            "CTQ SDV within SLA": f"{light('sdv', sdv)} {fmt_count(row.within_sla)} / {fmt_count(row.due)} ({percent(sdv)})",
            "budget burn / planned": f"{light('burn_gap', burn_gap)} {percent(row.burn_pct)} / {percent(row.planned_burn_pct)}",
            f"payments unpaid > 30 days ({CURRENCY})": f"{light('payments_overdue', row.overdue_amount)} {float(row.overdue_amount):,.2f}",
            "open important deviations": f"{light('important_deviations', row.important_open)} {int(row.important_open)}",
            "open high risks": f"{light('high_risks', row.high_risks_open)} {int(row.high_risks_open)}",
            "senders' data quality (worst accepted share)": f"{light('quality', row.worst_sender_accepted)} {percent(row.worst_sender_accepted)}",
            "view disagreements": f"{light('disagreements', row.disagreements)} {int(row.disagreements)}",
        })
    return pd.DataFrame(rows)


def portfolio(view: PublishedBuild, filters: Filters) -> None:
    st.title("Portfolio")
    st.caption(
        f"Every study, {filters.perspective} perspective where a KPI exists in both views"
        f"{', ' + filters.country_code + ' only' if filters.country_code else ''}. "
        "🟢 on track · 🟡 watch · 🔴 act · ⚪ nothing to measure yet (thresholds: README, Dashboards)."
    )
    figures = queries.portfolio(view, Filters(perspective=filters.perspective, country_code=filters.country_code))
    table = worst_first(portfolio_table(figures))
    portfolio_summary(figures, table)
    first = 0
    if len(table) > STUDIES_PER_PAGE:
        pages_count = -(-len(table) // STUDIES_PER_PAGE)
        first = (st.number_input(f"Page of studies (1 to {pages_count})", 1, pages_count, 1, key="portfolio_page") - 1) * STUDIES_PER_PAGE
    show_table("Studies", table, "portfolio", caption="The studies with the most red lights first.", first=first, rows=STUDIES_PER_PAGE)


def portfolio_summary(figures: pd.DataFrame, table: pd.DataFrame) -> None:
    """The portfolio's totals, and how many studies each signal puts at each light."""
    signals = [column for column in table.columns if column not in ("study", "CRO")]
    with_red = int(sum(table[column].astype(str).str.startswith(RED) for column in signals).gt(0).sum()) if len(table) else 0
    totals = [
        ("Studies", f"{len(table)}"),
        ("Studies with a red light", f"{with_red}"),
        ("Sites ready of planned", percent(ratio(figures["sites_ready"].sum(), figures["sites_planned"].sum()))),
        ("Randomized of planned", percent(ratio(figures["randomized"].sum(), figures["planned"].sum()))),
        (f"Unpaid over 30 days ({CURRENCY})", f"{float(figures['overdue_amount'].sum()):,.2f}"),
    ]
    for column, (label, value) in zip(st.columns(len(totals)), totals):
        column.metric(label, value)
    if len(table):
        lights = table[signals].melt(var_name="signal", value_name="shown")
        lights["light"] = lights["shown"].str[:1].map(LIGHTS)
        lights["order"] = lights["light"].map({name: index for index, name in enumerate(LIGHTS.values())})
        draw_chart(LIGHTS_CHART, lights[["signal", "light", "order"]])


def worst_first(table: pd.DataFrame) -> pd.DataFrame:
    reds = sum(table[column].astype(str).str.startswith(RED) for column in table.columns)
    return table.assign(reds=reds).sort_values(["reds", "study"], ascending=[False, True]).drop(columns="reds")


# Study --------------------------------------------------------------------------------


def headline(view: PublishedBuild, filters: Filters) -> None:
    frame = queries.portfolio(view, Filters(perspective=filters.perspective, country_code=filters.country_code))
    row = frame[frame["study_id"] == filters.study_id].iloc[0]
    metrics = [
        ("Sites ready / planned", f"{fmt_count(row.sites_ready)} / {fmt_count(row.sites_planned)}"),
        ("Randomized / planned (latest month)", f"{fmt_count(row.randomized)} / {fmt_count(row.planned)}"),
        ("Enrollment vs plan", percent(ratio(row.randomized, row.planned))),
        ("CTQ visits verified within SLA", f"{fmt_count(row.within_sla)} / {fmt_count(row.due)}"),
        ("Budget burn (study)", percent(row.burn_pct)),
        (f"Unpaid over 30 days ({CURRENCY})", f"{float(row.overdue_amount):,.2f}"),
        ("Open important deviations", fmt_count(row.important_open)),
        ("Open high or critical risks", fmt_count(row.high_risks_open)),
        ("Milestone disagreements", fmt_count(row.disagreements)),
    ]
    for row in (metrics[:5], metrics[5:]):
        for column, (label, value) in zip(st.columns(5), row):
            column.metric(label, value)


def study(view: PublishedBuild, filters: Filters) -> None:
    if filters.study_id is None:
        st.info("This view holds no study yet.")
        return
    st.title(f"Study {filters.study_id}")
    st.caption(
        f"{filters.country_code or 'All countries'} · {filters.perspective} perspective for the KPIs that exist in both "
        "views; readiness and close-out show both side by side, differences highlighted."
    )
    headline(view, filters)
    readiness(view, filters)
    enrollment(view, filters)
    show_table("Verification timeliness of critical visits", queries.table(view, "kpi_verification_timeliness", filters,
               order_by="country_code"), "verification_timeliness")
    finance(view, filters)
    show_table(f"Site payment status and ageing ({CURRENCY})",
               queries.table(view, "kpi_site_payment_status", filters, order_by="country_code"), "site_payment_status")
    show_table("Deviations by site", queries.table(view, "kpi_deviations", filters, perspective=True,
               order_by="country_code, site_code"), "deviations")
    show_table("Risks", queries.table(view, "kpi_risks", filters, perspective=True, order_by="risk_id"), "risks")
    show_table("Close-out", queries.both_views(view, "kpi_closeout", ["study_id"], [
        "lpi_date", "db_lock_date", "tmf_recon_date", "fin_recon_date", "closeout_state"], Filters(filters.perspective, filters.study_id)),
        "closeout", highlight="views_differ")
    show_table("Milestone discrepancies", queries.table(view, "rpt_milestone_discrepancies", filters,
               order_by="status = 'MATCH', milestone, country_code nulls first, site_code nulls first"), "milestone_discrepancies",
               caption="Disagreements first")


def readiness(view: PublishedBuild, filters: Filters) -> None:
    show_table("Country readiness, both views", queries.both_views(
        view, "kpi_country_readiness", ["study_id", "country_code"],
        ["pack_state", "approval_date", "country_ready_date", "sites_planned", "sites_ready"], filters,
    ), "country_readiness", caption="Rows where the sponsor's and the CRO's records differ are highlighted.", highlight="views_differ")
    show_table("Site readiness, both views", queries.both_views(
        view, "kpi_site_readiness", ["study_id", "country_code", "site_code"],
        ["pack_state", "pack_items_done", "site_ready_date", "days_in_state"], filters,
    ), "site_readiness", highlight="views_differ")


def enrollment(view: PublishedBuild, filters: Filters) -> None:
    frame = queries.enrollment(view, filters)
    if not frame.empty:
        long = frame.melt(
            id_vars=["country_code", "month"], value_vars=["actual_randomized_cum", "planned_randomized_cum"],
            var_name="series", value_name="subjects",
        ).replace({"series": {"actual_randomized_cum": "Actual", "planned_randomized_cum": "Planned"}})
        draw_chart(ENROLLMENT_CHART, long)
    show_table("Enrollment vs plan", frame, "enrollment_vs_plan")


def finance(view: PublishedBuild, filters: Filters) -> None:
    burn = queries.table(view, "kpi_budget_burn", filters, country=False, order_by="month")
    if not burn.empty:
        long = burn.melt(id_vars=["month"], value_vars=["actual_cum", "budget_amount", "latest_forecast_total"],
                         var_name="series", value_name="amount").replace({"series": {
                             "actual_cum": "Accrued, cumulative", "budget_amount": "Budget (baseline forecast)",
                             "latest_forecast_total": "Latest forecast total"}})
        long["amount"] = long["amount"].astype(float)
        draw_chart(BURN_CHART, long)
    show_table(f"Budget burn ({CURRENCY})", burn, "budget_burn")
    coverage = queries.table(view, "kpi_accrual_coverage", filters, country=False, order_by="month, cost_bucket")
    if not coverage.empty:
        totals = coverage.groupby("month", as_index=False)[["accrued_cum", "invoiced_cum", "paid_cum"]].sum()
        long = totals.melt(id_vars=["month"], var_name="series", value_name="amount").replace({"series": {
            "accrued_cum": "Accrued", "invoiced_cum": "Invoiced", "paid_cum": "Paid"}})
        long["amount"] = long["amount"].astype(float)
        draw_chart(COVERAGE_CHART, long)
    show_table(f"Accrual coverage by cost bucket ({CURRENCY})", coverage, "accrual_coverage")
    show_table("Accruals by month and cost bucket", queries.accruals(view, filters), "accruals",
               caption=f"amount in the CRO's currency, amount_reporting in {CURRENCY}")


# Data quality & governance ------------------------------------------------------------


def governance(view: PublishedBuild) -> None:
    st.title("Data quality & governance")
    with st.sidebar:
        st.header("Filters")
        sender = st.selectbox("Sender", ["All senders", *queries.senders(view)], key="sender")
    source = None if sender == "All senders" else sender
    quality = queries.data_quality(view, source)
    if not quality.empty:
        accepted = quality.groupby(["source", "month"], as_index=False)[["rows_accepted", "rows_quarantined"]].sum()
        draw_chart(ACCEPTED_CHART, accepted)
    show_table("Deliveries and rows per sender, feed and month", quality, "data_quality")
    held = queries.quarantined_by_reason(view, source)
    if not held.empty:
        draw_chart(HELD_CHART, held)
    show_table("Rows held by reason", held, "quarantined_by_reason")
    show_table("Mapping gaps", queries.governance_table(view, "mapping_gaps", source), "mapping_gaps")
    show_table("Held deliveries", queries.governance_table(view, "held_deliveries", source), "held_deliveries")
    show_table("Freshness of each source", queries.governance_table(view, "source_freshness", source), "source_freshness")
    show_table("Milestone discrepancies", view.query(
        "select * from rpt_milestone_discrepancies where status <> 'MATCH' order by study_id, milestone, country_code, site_code"
    ), "milestone_discrepancies", caption="Milestones the sponsor's and the CRO's records disagree on, every study")
