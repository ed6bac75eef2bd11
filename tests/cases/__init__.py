"""Standing outcomes: cases from hooks and polled sources, their steps, SLA and reports."""
