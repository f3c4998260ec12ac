"""Every text a person reads, for the command line and Telegram alike, and the charts.

The core returns data (a :class:`~bot.core.snapshot.Snapshot`, an
:class:`~bot.core.models.Alert`, a :class:`~bot.core.status.StatusReport`); the modules
here put it into words. Messages are :class:`~bot.core.message.Message` values, rendered as
plain text (:mod:`~bot.present.plain`) or as Telegram HTML (:mod:`bot.tg.formatting`);
fixed replies and reports are Telegram HTML or terminal text directly.

=============  ===========================================================================
``numbers``    how every number reads (correlations with intervals, z, p, names)
``context``    the comparisons and tables alerts and ``/corr`` share
``alerts``     an alert's message, and the ``/alerts`` list
``corr``       the ``/corr`` reply and the daily digest
``study``      ``/about``: the method and the JPMorgan study weighed against today's data
``replies``    the command menu, usage, help and every fixed chat reply
``status``     the administrators' ``/status``
``notices``    what the administrators are told, and the ``/runnow`` summary
``health``     the one line of ``corrbot health``
``fetch``      the ``corrbot fetch`` table
``reports``    what ``check``, ``backtest``, ``demo`` and ``calibrate`` print
``plain``      messages and tables as plain text
``markup``     text made safe for Telegram HTML
``charts``     the PNG charts (matplotlib, imported on first use)
``wording``    the words the core records with each alert (the ``Wording`` seam)
=============  ===========================================================================
"""
