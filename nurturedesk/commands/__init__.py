"""Subcommands of the `nurturedesk` command line, one module per concept."""
