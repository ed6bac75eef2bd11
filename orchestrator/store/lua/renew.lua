-- Reset the idle time of the entries a consumer still holds (JUSTID: without counting a
-- delivery); return them. KEYS: the job stream. ARGV: the group, the consumer, the entries.
local function owned(stream, group, entry, consumer)
  local p = redis.call('XPENDING', stream, group, entry, entry, 1)
  return #p > 0 and p[1][2] == consumer
end
local kept = {}
for i = 3, #ARGV do
  if owned(KEYS[1], ARGV[1], ARGV[i], ARGV[2]) then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    kept[#kept + 1] = ARGV[i]
  end
end
return kept
