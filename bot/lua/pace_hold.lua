-- No turn before ARGV[1] (the platform asked to wait); the key expires ARGV[2] s + 60 later.
-- KEYS: the key's arrival time.
local tat = tonumber(ARGV[1])
if tat > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], tostring(tat), 'EX', math.ceil(tonumber(ARGV[2])) + 60)
end
