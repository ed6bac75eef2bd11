-- Whether ARGV[1] (a delivery's token) may call a channel now: {0, 0} yes; {0, 1} yes, and a
-- success ends an outage (it is at the head, or the channel was failing); else {places ahead,
-- 2 + whether the channel is still failing, the time it started failing}, and the token keeps
-- its place. Heads not seen for ARGV[3] s (at ARGV[2]) lose their place.
-- KEYS: the channel's queue (zset), seen (hash token -> time), state (hash), arrivals counter.
local queue, seen, state = KEYS[1], KEYS[2], KEYS[3]
local token, now, stale = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('ZCARD', queue) == 0 then return {0, redis.call('HEXISTS', state, 'since')} end
while true do
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if not head then return {0, redis.call('HEXISTS', state, 'since')} end
  if head == token then
    redis.call('HSET', seen, token, tostring(now))
    return {0, 1}
  end
  local last = tonumber(redis.call('HGET', seen, head) or '0')
  if now - last <= stale then break end
  redis.call('ZREM', queue, head)
  redis.call('HDEL', seen, head)
  if redis.call('HEXISTS', state, 'since') == 1 then redis.call('HINCRBY', state, 'lost', 1) end
end
if not redis.call('ZSCORE', queue, token) then
  redis.call('ZADD', queue, redis.call('INCR', KEYS[4]), token)
end
redis.call('HSET', seen, token, tostring(now))
local ahead = redis.call('ZRANK', queue, token)
local since = redis.call('HGET', state, 'since')
if since then return {ahead, 3, since} end
return {ahead, 2}
