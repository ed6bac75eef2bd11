-- One commit: checks, record writes, ops and audit events, all or nothing.
-- KEYS: every key the commit touches; the spec (ARGV[1], JSON) names them by index.
local spec = cjson.decode(ARGV[1])
for i, c in ipairs(spec.checks) do
  if c.expect then
    local cur = redis.call('HGET', KEYS[c.key], 'status') or ''
    local ok = false
    for _, e in ipairs(c.expect) do if e == cur then ok = true end end
    if not ok then return {0, i, cur} end
  elseif c.absent then
    if redis.call('EXISTS', KEYS[c.absent]) == 1 then return {0, i, 'present'} end
  elseif c.held then
    local p = redis.call('XPENDING', KEYS[c.held], c.group, c.entry, c.entry, 1)
    if #p == 0 or p[1][2] ~= c.consumer then return {0, i, 'taken over'} end
  elseif c.budget then
    local spent = tonumber(redis.call('HGET', KEYS[c.budget], 'spent') or '0')
    local limit = tonumber(redis.call('HGET', KEYS[c.budget], 'budget') or '0')
    if spent + tonumber(c.add) > limit + 1e-9 then return {0, i, tostring(spent)} end
  end
end
-- Every chain is written with the key its last event has, or moved from an older one
-- (`older`) by a rotation event the process sealed: refuse before writing anything if
-- not, answering with the chain's head (seq, key).
for _, h in ipairs(spec.heads) do
  local at = redis.call('HMGET', KEYS[h.head], 'seq', 'kid')
  local kid = at[2] or ''
  if tonumber(at[1] or '0') > 0 and kid ~= h.kid then
    local older = false
    for _, o in ipairs(h.older or {}) do if o == kid then older = true end end
    if not (older and h.rotation) then return {2, KEYS[h.chain], (at[1] or '0') .. '\n' .. kid} end
  end
end
for _, w in ipairs(spec.writes) do
  redis.call('HSET', KEYS[w.key], unpack(w.fields))
end
local allowed = {SADD=1, SREM=1, ZADD=1, ZREM=1, XADD=1, XACK=1, XDEL=1, RPUSH=1, HSET=1,
                 HDEL=1, HINCRBY=1, HINCRBYFLOAT=1, DEL=1, SET=1, INCRBY=1}
for _, op in ipairs(spec.ops) do
  op[2] = KEYS[op[2]]
  if op[1] == 'RELEASE' then
    -- Release a lease only if this owner still holds it.
    if redis.call('GET', op[2]) == op[3] then redis.call('DEL', op[2]) end
  elseif not allowed[op[1]] then
    return redis.error_reply('commit: op not allowed ' .. op[1])
  else
    redis.call(unpack(op))
  end
end
-- Link each event (sealed by the process, or unsealed without a key) to its chain.
local heads, order = {}, {}
local function head_of(chain, head_key)
  local head = heads[chain]
  if not head then
    local at = redis.call('HMGET', KEYS[head_key], 'hash', 'seq', 'kid')
    head = {hash = at[1] or '', seq = tonumber(at[2] or '0'), kid = at[3] or '', key = head_key}
    heads[chain] = head
    order[#order + 1] = chain
  end
  return head
end
local function append(chain, head_key, index, body, seal, kid)
  local head = head_of(chain, head_key)
  local entry = {seq = head.seq + 1, prev = head.hash, body = body}
  local text = entry.prev .. '\n' .. entry.seq .. '\n' .. body
  if seal then
    entry.seal = seal
    text = text .. '\n' .. seal
  end
  entry.hash = redis.sha1hex(text)
  head.seq, head.hash, head.kid = entry.seq, entry.hash, kid
  redis.call('RPUSH', KEYS[chain], cjson.encode(entry))
  if index > 0 then redis.call('RPUSH', KEYS[index], entry.seq) end
end
for _, h in ipairs(spec.heads) do
  local head = head_of(h.chain, h.head)
  if h.rotation and head.seq > 0 and head.kid ~= h.kid then
    append(h.chain, h.head, 0, h.rotation.body, h.rotation.seal, h.kid)
  end
end
for _, ev in ipairs(spec.events) do
  append(ev.chain, ev.head, ev.index, ev.body, ev.seal, ev.kid or '')
end
local reply = {}
for _, chain in ipairs(order) do
  local head = heads[chain]
  redis.call('HSET', KEYS[head.key], 'hash', head.hash, 'seq', head.seq, 'kid', head.kid)
  reply[#reply + 1] = KEYS[chain] .. '\n' .. head.seq .. '\n' .. head.hash .. '\n' .. head.kid
end
return {1, 0, table.concat(reply, '\n')}
