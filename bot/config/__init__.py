"""The configuration: ``config.yaml`` validated with pydantic at start-up.

Key names are a contract with operators' files and deployments. An invalid file raises
:class:`~bot.core.errors.ConfigError` whose message names every bad key path and what is
accepted, e.g. ``data.crypto_source: 'binance' is not one of ccxt, yfinance, csv, synthetic``.

=============  ========================================================================
``sections``   one strict model per section of ``config.yaml`` but ``alerts``, with its
               keys, defaults, bounds and the checks inside the section
``alerts``     the ``alerts`` section: alerting pairs and the rules' settings
``schema``     :class:`Config`, the sections together and the checks that span them
``loading``    which file (``--config``, ``$CORRBOT_CONFIG``, ``./config.yaml``), reading
               its YAML, validating it, anchoring relative paths at its folder
``errors``     pydantic's validation errors told as one line per bad key
``reference``  the generator of ``docs/configuration.md`` (``python -m
               bot.config.reference``); not imported here
=============  ========================================================================
"""

from __future__ import annotations

from bot.config.loading import load_config, load_configured, parse_config, resolve_config_path
from bot.config.schema import Config

__all__ = ["Config", "load_config", "load_configured", "parse_config", "resolve_config_path"]
