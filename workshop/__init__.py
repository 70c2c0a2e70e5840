"""The workshop beside the pipeline: tools for trying Common Ground and testing it, which
the Dagster code location never imports.

- `synthetic`: the synthetic portfolio generator (`cg-generate`).
- `feed_server`: a reference implementation of the CRO events API, for demos and tests.
- `demo`, `report`: the demo command (`cg-demo`) and the summary it prints.
"""
