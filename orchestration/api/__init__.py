"""API ingestion: CRO events pulled over HTTP (docs/cro-events-api.md) land as ordinary
delivery files, so the feed contract, the gates and de-duplication treat them like any
other delivery.

- `client`: `CroEventsClient`, paginated, retried, authenticated by a bearer token.
- `pull`: `pull_events`, one pull into `<landing>/cro-<id>/events__<stamp>.jsonl`, with a cursor.
- `feed_server`: `FeedServer`, a reference implementation of the API for demos and tests.

The modules are not imported here, so that `python -m orchestration.api.pull` and
`python -m orchestration.api.feed_server` run them cleanly.
"""
