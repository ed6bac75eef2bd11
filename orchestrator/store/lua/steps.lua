-- The records of the steps in a list, in its order (what `SORT ... GET` did, which a
-- cluster refuses). KEYS: the step list. ARGV: a step record's key before its id.
-- The records are read through the list: same hash tag, named once the list is read.
local out = {}
for i, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  out[i] = redis.call('HGET', ARGV[1] .. id, 'data') or false
end
return out
