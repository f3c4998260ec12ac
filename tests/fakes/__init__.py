"""Stand-ins for what the tests cannot use for real: the wall clock, Telegram, exchanges."""
