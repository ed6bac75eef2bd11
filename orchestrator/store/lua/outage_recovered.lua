-- The channel answers again: end the outage; returns {since, paged, deliveries lost}.
-- KEYS: the channel's queue, seen, state (only the state is touched).
local queue, seen, state = KEYS[1], KEYS[2], KEYS[3]
local since = redis.call('HGET', state, 'since')
local paged = redis.call('HGET', state, 'paged')
local lost = redis.call('HGET', state, 'lost')
redis.call('DEL', state)
return {since or '', paged or '', lost or '0'}
