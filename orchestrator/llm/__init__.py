"""The intelligence lane: a chat model through langchain, safe without one.

The model proposes (plans, readings of statements, drafts); deterministic code
validates everything it says and policy decides what runs.
"""
