"""Command-line faces of acb: one thin module per verb, each builds config and hands off."""
