"""Redis is the store, behind named store operations: records and indexes, one compare-and-set
commit per change with its audit events, the sealed audit chain, keys and ids, and the
ledgers, flags, counters and gauges the core keeps. Only this package and the runtime's job
queue hold the raw client.
"""
