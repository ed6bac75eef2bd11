-- A failure of the channel met by ARGV[1] at ARGV[2]: the token keeps (or takes) its place,
-- the outage starts if it had not; returns {since, 1 when on-call is to be paged now (the
-- outage has lasted ARGV[3] s, once per outage)}; every key expires in ARGV[4] s.
-- KEYS: the channel's queue, seen, state, arrivals counter.
local queue, seen, state = KEYS[1], KEYS[2], KEYS[3]
local token, now, page_after, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if not redis.call('ZSCORE', queue, token) then
  redis.call('ZADD', queue, redis.call('INCR', KEYS[4]), token)
end
redis.call('HSET', seen, token, tostring(now))
redis.call('HSETNX', state, 'since', tostring(now))
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ttl) end
local since = tonumber(redis.call('HGET', state, 'since'))
local page = 0
if now - since >= page_after and redis.call('HSETNX', state, 'paged', '1') == 1 then page = 1 end
return {tostring(since), page}
