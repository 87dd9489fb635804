"""The Pulumi program's parts: one component per module and pure helpers (see __main__.py)."""
