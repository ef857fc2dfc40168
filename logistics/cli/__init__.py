"""The ``logistics`` command line: one module per command."""
