-- Remove an outcome's records the history store now holds, only if Redis still holds
-- exactly what was written (`orchestrator.history.archive`).
-- KEYS: the outcome's step list, measurements, their archived count, its audit index, its
-- chain's base, its tick aggregates; then per step its record and its approval's record
-- (the step's own again when it has none). ARGV: the archived count expected, the
-- measurements to drop, '1' when the outcome has ended (its steps may go from anywhere in
-- the list), then per step: its id, the status written to SQL, '1' when it has an approval.
-- A step in a tick's window is never removed: the script then changes nothing.
local FIXED = 6
local function step_key(n) return KEYS[FIXED + 2 * n - 1] end
local function approval_key(n) return KEYS[FIXED + 2 * n] end
local steps = (#ARGV - 3) / 3
if tonumber(redis.call('GET', KEYS[3]) or '0') ~= tonumber(ARGV[1]) then return 0 end
for n = 1, steps do
  if redis.call('HGET', step_key(n), 'status') ~= ARGV[3 + 3 * n - 1] then return 0 end
end
local trim = tonumber(ARGV[2])
if trim > 0 then
  redis.call('LTRIM', KEYS[2], trim, -1)
  redis.call('INCRBY', KEYS[3], trim)
end
if steps > 0 then
  local gone, kept, before = {}, {}, 0
  for n = 1, steps do gone[ARGV[3 + 3 * n - 2]] = true end
  local cursor = tonumber(redis.call('HGET', KEYS[6], 'cursor') or '0')
  local limit = cursor
  if ARGV[3] == '1' then limit = math.huge end
  for at, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    if not gone[id] then
      kept[#kept + 1] = id
    elseif at > limit then
      return 0
    elseif at <= cursor then
      before = before + 1
    end
  end
  for n = 1, steps do
    redis.call('DEL', step_key(n))
    if ARGV[3 + 3 * n] == '1' then redis.call('DEL', approval_key(n)) end
  end
  redis.call('DEL', KEYS[1])
  for at = 1, #kept, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(kept, at, math.min(at + 999, #kept)))
  end
  -- The tick's window starts at the same step as before (`RedisStore.tick_snapshot`).
  if before > 0 then redis.call('HSET', KEYS[6], 'cursor', cursor - before) end
end
local base = tonumber(redis.call('HGET', KEYS[5], 'seq') or '0')
while true do
  local first = redis.call('LINDEX', KEYS[4], 0)
  if not first or tonumber(first) > base then break end
  redis.call('LPOP', KEYS[4])
end
return 1
