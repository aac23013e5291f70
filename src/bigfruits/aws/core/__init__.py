"""What every command stands on: settings, context, the state file, the one sender (send, or
print for ``--dry-run``), AWS errors, waiting, tags. Imports nothing from ``requests``/``commands``."""
