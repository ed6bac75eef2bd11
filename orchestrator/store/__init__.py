"""Redis is the store: records, indexes, the audit chain, timers and the job stream."""
