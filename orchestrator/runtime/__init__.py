"""Running the core: the services assembled from a context, the job queue and its worker, the clock
and its scheduler under a leader lock, the runtime's own incidents, traces and log context.
"""
