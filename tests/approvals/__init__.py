"""Approvals: decisions and races, quorum votes, edit then approve, and decision figures."""
