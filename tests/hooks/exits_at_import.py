"""A module that exits while it is imported: hooking it must not stop the application."""

raise SystemExit(3)
