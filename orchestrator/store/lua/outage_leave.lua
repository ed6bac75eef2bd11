-- Token ARGV[1] leaves the channel's queue. KEYS: the channel's queue, seen.
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
