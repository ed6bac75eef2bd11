"""The store: its contract on every Redis, commits, the audit chain, ids and Redis Cluster."""
