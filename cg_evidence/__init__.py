"""cg-evidence: the records behind a KPI value, evidence packs, and KPIs as of a past date."""
