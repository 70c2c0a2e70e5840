"""API ingestion: CRO events pulled over HTTP (docs/cro-events-api.md) land as ordinary
delivery files, so the feed contract, the gates and de-duplication treat them like any
other delivery.

- `client`: `CroEventsClient`, paginated, retried, authenticated by a bearer token.
- `pull`: `pull_events`, one pull into `<landing>/cro-<id>/events__<stamp>.jsonl`, with a cursor.

The modules are not imported here, so that `python -m orchestration.api.pull` runs
cleanly. A reference implementation of the API, for demos and tests, is
`workshop.feed_server`.
"""
