"""Outcomes from statement to end: the parser, intake, targets and the planning tick."""
