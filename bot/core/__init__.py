"""The transport-independent core: what corrbot knows and decides, with no idea who asks.

Models and errors; the calendar and the daily schedule; market data (sources, the price
cache's refresh, alignment into a panel, quality checks, freshness); analytics, snapshots
and the alert engine with its rules and episodes; calibration and backtests; the store;
the service the adapters call, the status report and the health verdict. It returns data:
words are :mod:`bot.present`'s, Telegram is :mod:`bot.tg`'s, and nothing here imports
them, nor ``telegram``, ``apscheduler``, the configuration or the CLI (import-linter holds
it to that).
"""
