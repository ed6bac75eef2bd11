-- Move up to ARGV[2] timers due by ARGV[1] into the job stream, removing each as it goes.
-- KEYS: the timers (a sorted set), their jobs (a hash), the job stream (one hash tag).
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  local job = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if job then redis.call('XADD', KEYS[3], '*', 'job', job) end
end
return #due
