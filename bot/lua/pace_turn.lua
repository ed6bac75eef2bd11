-- The next turn on a paced key (GCRA): ARGV now, interval, burst, member ('' for none),
-- the longest wait slept (a longer turn is kept for the member), the kept turns' expiry.
-- Returns the seconds until the turn. KEYS: the key's arrival time, its kept turns (hash).
local now, interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local member = ARGV[4]
local turn = member ~= '' and tonumber(redis.call('HGET', KEYS[2], member))
if not turn then
  local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + interval
  redis.call('SET', KEYS[1], tostring(tat), 'EX', math.ceil(burst * interval) + 60)
  turn = math.max(now, tat - burst * interval)
end
if member ~= '' then
  if turn > now + tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[2], member, tostring(turn))
    redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
  else
    redis.call('HDEL', KEYS[2], member)
  end
end
return tostring(turn - now)
