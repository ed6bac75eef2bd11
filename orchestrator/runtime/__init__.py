"""Running the core: every job as a typed message and the worker's dispatch by its class, the
job queue and its worker, the services assembled from a context, the desk a conversation
holds, the clock and its scheduler under a leader lock, the runtime's own incidents, traces
and log context.
"""
