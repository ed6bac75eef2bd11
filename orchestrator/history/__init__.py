"""History out of Redis: a SQL store for finished records, and the job that moves them."""
