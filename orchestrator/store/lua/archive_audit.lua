-- Drop a chain's oldest events the history store now holds, only if the chain still
-- starts where it was read. KEYS: the chain and its base. ARGV: the base expected, how
-- many events to drop, and the seq and hash of the last one (the chain's new base).
if tonumber(redis.call('HGET', KEYS[2], 'seq') or '0') ~= tonumber(ARGV[1]) then return 0 end
local count = tonumber(ARGV[2])
local last = redis.call('LINDEX', KEYS[1], count - 1)
if not last or cjson.decode(last).seq ~= tonumber(ARGV[3]) then return 0 end
redis.call('LTRIM', KEYS[1], count, -1)
redis.call('HSET', KEYS[2], 'seq', ARGV[3], 'hash', ARGV[4])
return 1
