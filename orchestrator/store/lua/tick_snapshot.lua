-- Take an outcome's lease and read what a tick needs (`RedisStore.tick_snapshot`).
-- KEYS: the outcome, its lease, its step list, its tick aggregates, its pinned steps.
-- ARGV: the lease's owner and TTL (ms), a step record's key before its id (3), the kill
-- switch's key around the workspace id (4, 5), the window, today, a step key's tail (8),
-- the first day whose effects are still read (9). Step records are read through the
-- list (same hash tag); the kill switch is named once the outcome's workspace is known.
local row = redis.call('HMGET', KEYS[1], 'data', 'measure_failures', 'spent', 'off_since',
                       'off_answered')
if not row[1] then return {'missing'} end
local outcome = cjson.decode(row[1])
if outcome.kind == 'standing' then return {'standing'} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'leased'} end
local paused = redis.call('EXISTS', ARGV[4] .. outcome.workspace .. ARGV[5])
local list, agg, pins = KEYS[3], KEYS[4], KEYS[5]
local prefix, suffix, window, today = ARGV[3], ARGV[8], tonumber(ARGV[6]), ARGV[7]
local effects_since = ARGV[9]
local FINAL = {succeeded=1, failed=1, expired=1, forbidden=1, cancelled=1, rejected=1}
local state = redis.call('HMGET', agg, 'cursor', 'day', 'today')
local cursor = tonumber(state[1] or '0')
local counted = 0
if state[2] == today then counted = tonumber(state[3] or '0') end
local function data(id) return redis.call('HGET', prefix .. id .. suffix, 'data') end
-- A step leaving the window: pinned while the planner needs it (unfinished, rejected),
-- else remembered as its play's last run and counted against today's cap.
-- A step whose control group's effect is still to be read stays too (`awaits_effect`).
local function awaits_effect(step)
  local h = step.holdout
  if type(h) ~= 'table' or type(h.control) ~= 'table' or #h.control == 0 then return false end
  if step.status ~= 'succeeded' or type(step.incremental) == 'table' then return false end
  if step.shadow == true or type(step.finished_at) ~= 'string' then return false end
  return string.sub(step.finished_at, 1, 10) >= effects_since
end
local function needed(step)
  return step.status == 'rejected' or not FINAL[step.status] or awaits_effect(step)
end
local function settle(id, step)
  if needed(step) then
    redis.call('SADD', pins, id)
    return
  end
  if step.status == 'succeeded' or step.status == 'failed' then
    local t = step.created_at
    if type(step.finished_at) == 'string' then t = step.finished_at end
    local known = redis.call('HGET', agg, 'play:' .. step.play)
    if not known or string.match(known, '^[^\n]*') < t then
      redis.call('HSET', agg, 'play:' .. step.play, t .. '\n' .. id)
    end
  end
  if step.status ~= 'cancelled' and string.sub(step.created_at, 1, 10) == today then
    counted = counted + 1
  end
end
local length = redis.call('LLEN', list)
local start = math.max(cursor, length - window)
if start > cursor then
  for _, id in ipairs(redis.call('LRANGE', list, cursor, start - 1)) do
    local raw = data(id)
    if raw then settle(id, cjson.decode(raw)) end
  end
end
local seen, extra = {}, {}
local ids = redis.call('LRANGE', list, start, -1)
for _, id in ipairs(ids) do seen[id] = true end
for _, id in ipairs(redis.call('SMEMBERS', pins)) do
  local raw = data(id)
  if not raw then
    redis.call('SREM', pins, id)
  elseif not seen[id] then
    local step = cjson.decode(raw)
    if needed(step) then
      seen[id] = true
      extra[#extra + 1] = raw
    else
      redis.call('SREM', pins, id)
      settle(id, step)
    end
  end
end
local fields, shown = redis.call('HGETALL', agg), 0
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 5) == 'play:' then
    local id = string.match(fields[i + 1], '\n(.*)$')
    local raw = id and not seen[id] and data(id)
    if raw then
      seen[id] = true
      extra[#extra + 1] = raw
      local step = cjson.decode(raw)
      if step.status ~= 'cancelled' and string.sub(step.created_at, 1, 10) == today then
        shown = shown + 1  -- counted already, and in the history the tick reads
      end
    end
  end
end
redis.call('HSET', agg, 'cursor', start, 'day', today, 'today', counted)
local steps = {}
for _, id in ipairs(ids) do steps[#steps + 1] = data(id) end
return {'ok', row[1], row[2] or '', row[3] or '', paused, steps, extra, counted - shown,
        row[4] or '', row[5] or ''}
