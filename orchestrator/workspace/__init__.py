"""The workspace file as the core reads it: the catalog of metrics, actions, rules and people,
metric formats, and `${ENV}` secrets.
"""
