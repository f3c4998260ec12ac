"""``python -m bot`` runs the same command line as the ``corrbot`` script."""

from bot.cli import main

raise SystemExit(main())
