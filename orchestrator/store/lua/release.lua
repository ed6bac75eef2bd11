-- Release a lease only if ARGV[1] still holds it (one that expired and was taken is not
-- its owner's any more). KEYS: the lease.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
