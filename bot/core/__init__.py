"""Transport-independent core: models, market data, storage and (later) analytics.

Nothing under this package imports ``telegram``, ``apscheduler`` or the CLI.
"""
