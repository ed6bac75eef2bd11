"""Standing outcomes: cases arriving from hooks and polled sources, the case catalog, running a
case through its steps, its decisions and its SLA.
"""
