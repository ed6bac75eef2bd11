"""Outcomes from statement to end: intake and the parser, targets and deadlines, the tick of the
agent loop, its evaluation, and owner control (pause, resume, stop, budget).
"""
