"""The Streamlit app `cg-dashboard` serves: the pages of one audience, the filters, and on
every page the as-of date and build time of the data shown."""

from __future__ import annotations

import os

import streamlit as st

from dashboard import pages
from dashboard.published import PublishedBuild, default_publish_dir, open_view
from dashboard.queries import Filters, countries, default_perspective, studies

ALL_COUNTRIES = "All countries"


def header(view: PublishedBuild) -> None:
    build = view.build()
    st.markdown(
        f"**{build.audience}** · data as of **{build.as_of_date or 'unknown'}** · "
        f"built {build.built_at:%Y-%m-%d %H:%M:%S} UTC · build `{build.build_id}`"
    )


def study_filters(view: PublishedBuild) -> Filters:
    default = default_perspective(view.audience)
    study_ids = list(studies(view)["study_id"])
    with st.sidebar:
        st.header("Filters")
        study_id = st.selectbox("Study", study_ids, key="study", help="The Study page shows this study")
        country = st.selectbox("Country", [ALL_COUNTRIES, *countries(view, study_id)], key="country")
        perspective = st.radio(
            "Perspective", ["sponsor", "cro"], index=["sponsor", "cro"].index(default), key="perspective",
            horizontal=True, help="Whose records the KPIs that exist in both views are computed from",
        )
    return Filters(perspective=perspective, study_id=study_id, country_code=None if country == ALL_COUNTRIES else country)


def main() -> None:
    st.set_page_config(page_title="Common Ground study dashboards", layout="wide")
    view = open_view(default_publish_dir(), os.environ["CG_DASHBOARD_AUDIENCE"]).current()
    try:
        show(view)
    finally:
        view.close()


def show(view: PublishedBuild) -> None:
    if view.audience == "governance":
        navigation = st.navigation([
            st.Page(lambda: pages.governance(view), title="Data quality & governance", url_path="data-quality", default=True),
        ])
    else:
        filters = study_filters(view)
        navigation = st.navigation([
            st.Page(lambda: pages.portfolio(view, filters), title="Portfolio", url_path="portfolio", default=True),
            st.Page(lambda: pages.study(view, filters), title="Study", url_path="study"),
        ])
    st.html(pages.TABLE_STYLE)
    header(view)
    navigation.run()


main()
