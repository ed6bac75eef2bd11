-- Acknowledge and drop the entries a consumer still holds; one taken over is left alone.
-- KEYS: the job stream. ARGV: the group, the consumer, the entries.
local function owned(stream, group, entry, consumer)
  local p = redis.call('XPENDING', stream, group, entry, entry, 1)
  return #p > 0 and p[1][2] == consumer
end
for i = 3, #ARGV do
  if owned(KEYS[1], ARGV[1], ARGV[i], ARGV[2]) then
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
    redis.call('XDEL', KEYS[1], ARGV[i])
  end
end
return 0
