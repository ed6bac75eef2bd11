"""The core: outcomes and their agent loop, steps, approvals, people, standing outcomes and
their cases, notices, the runtime that runs jobs, and the store; it imports no chat SDK and
nothing from `bot` or `handlers` (ARCHITECTURE.md draws the map).
"""
