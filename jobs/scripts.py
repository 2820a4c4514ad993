"""The job record's transitions, each one Lua script so Redis applies it whole or not at
all: a worker killed between a check and its writes can never leave a half transition.

Every script gets the job's hash as KEYS[1] and its units hash as KEYS[2]; unit fields are
`<unit>|<field>`. The state index (`rxp:jobs:state:<state>`, newest-first listing by
state) moves with the state in the same script. Written for one Redis (not Cluster): the
index keys are derived inside the scripts.
"""

from __future__ import annotations

INDEX_PREFIX = "rxp:jobs:state:"
# The jobs of one API key (by its name): `<prefix><name>` all, `...:state:<state>` by state.
OWNER_PREFIX = "rxp:jobs:owner:"
FINISHED_INDEX = "rxp:jobs:finished"  # by finished_at: what retention walks
PUBLISHING = "rxp:jobs:publishing"  # finished, manifest and webhook not yet written
HEARTBEATS = "rxp:heartbeats"  # "<job id> <unit>" by its owner's last heartbeat

_PRELUDE = """
local FINAL = {succeeded=true, failed=true, skipped=true, cancelled=true}
local ACTIVE = {running=true, retrying=true}
local function uf(unit, name) return unit .. '|' .. name end
local function set_state(job_id, from, to)
  local score = redis.call('HGET', KEYS[1], 'created_at')
  redis.call('HSET', KEYS[1], 'state', to)
  redis.call('ZREM', '@INDEX@' .. from, job_id)
  redis.call('ZADD', '@INDEX@' .. to, score, job_id)
  local owner = redis.call('HGET', KEYS[1], 'owner')
  if owner then
    redis.call('ZREM', '@OWNER@' .. owner .. ':state:' .. from, job_id)
    redis.call('ZADD', '@OWNER@' .. owner .. ':state:' .. to, score, job_id)
  end
end
local function finished(job_id, now)
  redis.call('HSET', KEYS[1], 'finished_at', now)
  redis.call('HDEL', KEYS[1], 'published', 'outcome_counted')
  redis.call('ZADD', '@FINISHED@', now, job_id)
  redis.call('ZADD', '@PUBLISHING@', now, job_id)
end
local function unit_names()
  -- In plan order (the account part first), so "the first error" is stable.
  local names = {'account'}
  local planned = redis.call('HGET', KEYS[1], 'projects')
  if planned then
    for _, project in ipairs(cjson.decode(planned)) do
      table.insert(names, 'project:' .. project['uuid'])
    end
  end
  return names
end
"""


def _script(body: str) -> str:
    source = _PRELUDE + body
    for name, value in (
        ("@INDEX@", INDEX_PREFIX),
        ("@FINISHED@", FINISHED_INDEX),
        ("@PUBLISHING@", PUBLISHING),
        ("@HEARTBEATS@", HEARTBEATS),
        ("@OWNER@", OWNER_PREFIX),
    ):
        source = source.replace(name, value)
    return source


# ARGV: job id, unit, owner, owner host, owner pid, now, stale before, dead owner ('' = none).
# Takes a unit for a worker: from queued, or from an owner that stopped heartbeating (or
# is known dead). Returns {'claimed', attempts, requeues} or why not.
CLAIM = _script("""
local job_id, unit, owner, host, pid, now, stale_before, dead_owner = unpack(ARGV)
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'gone'} end
if state ~= 'queued' and state ~= 'running' then return {'job_finished', state} end
local ustate = redis.call('HGET', KEYS[2], uf(unit, 'state'))
if not ustate then return {'unknown'} end
if FINAL[ustate] then return {'final', ustate} end
local member = job_id .. ' ' .. unit
local takeover = false
if ACTIVE[ustate] then
  local current = redis.call('HGET', KEYS[2], uf(unit, 'owner')) or ''
  local beat = tonumber(redis.call('ZSCORE', '@HEARTBEATS@', member) or '0')
  if beat > tonumber(stale_before) and (dead_owner == '' or current ~= dead_owner) then
    return {'busy', current,
            redis.call('HGET', KEYS[2], uf(unit, 'owner_host')) or '',
            redis.call('HGET', KEYS[2], uf(unit, 'owner_pid')) or ''}
  end
  takeover = true
end
if state == 'queued' then
  set_state(job_id, 'queued', 'running')
  redis.call('HSET', KEYS[1], 'started_at', now)
end
local requeues = tonumber(redis.call('HGET', KEYS[2], uf(unit, 'requeues')) or '0')
if takeover then requeues = redis.call('HINCRBY', KEYS[2], uf(unit, 'requeues'), 1) end
local attempts = redis.call('HINCRBY', KEYS[2], uf(unit, 'attempts'), 1)
redis.call('HSET', KEYS[2], uf(unit, 'state'), 'running', uf(unit, 'owner'), owner,
           uf(unit, 'owner_host'), host, uf(unit, 'owner_pid'), pid)
redis.call('HDEL', KEYS[2], uf(unit, 'next_attempt_at'))
redis.call('HSETNX', KEYS[2], uf(unit, 'started_at'), now)
redis.call('ZADD', '@HEARTBEATS@', now, member)
return {'claimed', attempts, requeues}
""")

# ARGV: job id, unit, owner, now. Returns {1, 'running'} while the owner may go on,
# {0, why} when it must stop: the job left `running`, or another owner took the unit.
HEARTBEAT = _script("""
local job_id, unit, owner, now = unpack(ARGV)
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' then return {0, state or 'gone'} end
if redis.call('HGET', KEYS[2], uf(unit, 'owner')) ~= owner then return {0, 'superseded'} end
local ustate = redis.call('HGET', KEYS[2], uf(unit, 'state'))
if not ACTIVE[ustate] then return {0, ustate or 'gone'} end
redis.call('ZADD', '@HEARTBEATS@', now, job_id .. ' ' .. unit)
return {1, 'running'}
""")

# KEYS: job, units, records, files. ARGV: unit, owner, then (target, field, value) triples,
# target `u` (the unit's own field), `r` (records) or `f` (files). Applied only while the
# caller still owns the unit of a running job, so a superseded worker writes nothing.
UNIT_WRITE = _script("""
local unit, owner = ARGV[1], ARGV[2]
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
if redis.call('HGET', KEYS[2], uf(unit, 'owner')) ~= owner then return 0 end
if not ACTIVE[redis.call('HGET', KEYS[2], uf(unit, 'state'))] then return 0 end
for i = 3, #ARGV, 3 do
  local target, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if target == 'u' then
    if value == '' then redis.call('HDEL', KEYS[2], uf(unit, field))
    else redis.call('HSET', KEYS[2], uf(unit, field), value) end
  elseif target == 'i' then redis.call('HINCRBY', KEYS[2], uf(unit, field), value)
  elseif target == 'r' then redis.call('HSET', KEYS[3], field, value)
  elseif target == 'f' then redis.call('HSET', KEYS[4], field, value)
  end
end
return 1
""")

# ARGV: job id, unit, owner, new state, now, error JSON ('' = none), then (field, value)
# pairs of the unit to set with it (a skipped unit's reason). The owner's unit reaches a
# final state; returns {1, units still pending} or {0, why}.
UNIT_FINISH = _script("""
local job_id, unit, owner, new_state, now, err = unpack(ARGV, 1, 6)
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' then return {0, 'job_' .. (state or 'gone')} end
if redis.call('HGET', KEYS[2], uf(unit, 'owner')) ~= owner then return {0, 'superseded'} end
if not ACTIVE[redis.call('HGET', KEYS[2], uf(unit, 'state'))] then return {0, 'not_running'} end
redis.call('HSET', KEYS[2], uf(unit, 'state'), new_state, uf(unit, 'finished_at'), now)
redis.call('HDEL', KEYS[2], uf(unit, 'owner'), uf(unit, 'next_attempt_at'))
if err ~= '' then redis.call('HSET', KEYS[2], uf(unit, 'error'), err)
else redis.call('HDEL', KEYS[2], uf(unit, 'error')) end
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[2], uf(unit, ARGV[i]), ARGV[i + 1]) end
redis.call('ZREM', '@HEARTBEATS@', job_id .. ' ' .. unit)
return {1, redis.call('HINCRBY', KEYS[1], 'pending', -1)}
""")

# ARGV: projects JSON [{uuid, ..., skip_reason?}], skipped JSON. Records the job's project
# units once, whole: returns the number of units to run, or -1 when already planned (a
# redelivered planning task) or the job is not running.
PLAN = _script("""
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return -1 end
if redis.call('HGET', KEYS[1], 'planned') then return -1 end
local projects = cjson.decode(ARGV[1])
local active = 0
for _, project in ipairs(projects) do
  local unit = 'project:' .. project['uuid']
  local reason = project['skip_reason']
  if type(reason) == 'string' then
    redis.call('HSET', KEYS[2], uf(unit, 'state'), 'skipped')
  else
    redis.call('HSET', KEYS[2], uf(unit, 'state'), 'queued')
    active = active + 1
  end
end
redis.call('HSET', KEYS[1], 'planned', '1', 'projects', ARGV[1], 'skipped', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'pending', active)
return active
""")

# ARGV: job id, now. When every unit is final, the job gets its outcome: succeeded,
# partially_succeeded (some projects failed) or failed (none could be exported).
# Returns {1, outcome} or {0, why not}.
FINISH = _script("""
local job_id, now = unpack(ARGV)
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'running' then return {0, state or 'gone'} end
if tonumber(redis.call('HGET', KEYS[1], 'pending') or '0') > 0 then return {0, 'pending'} end
local ok, bad, account, first_error = 0, 0, nil, nil
for _, unit in ipairs(unit_names()) do
  local ustate = redis.call('HGET', KEYS[2], uf(unit, 'state'))
  if not FINAL[ustate] then return {0, 'pending'} end
  if unit == 'account' then account = ustate
  elseif ustate == 'succeeded' then ok = ok + 1
  elseif ustate ~= 'skipped' then bad = bad + 1 end
  if ustate == 'failed' and (first_error == nil or unit == 'account') then
    first_error = redis.call('HGET', KEYS[2], uf(unit, 'error'))
  end
end
local outcome
if bad == 0 and account == 'succeeded' then outcome = 'succeeded'
elseif ok == 0 and (bad > 0 or account ~= 'succeeded') then outcome = 'failed'
else outcome = 'partially_succeeded' end
set_state(job_id, 'running', outcome)
if outcome ~= 'succeeded' then
  local err = first_error and cjson.decode(first_error) or {code='cancelled', message='cancelled'}
  local summary = {code = err['code'], message = string.format(
    '%d of %d projects not exported; first error: %s', bad, ok + bad, err['message'])}
  if account ~= 'succeeded' and bad == 0 then summary['message'] = err['message'] end
  redis.call('HSET', KEYS[1], 'error', cjson.encode(summary))
end
finished(job_id, now)
return {1, outcome}
""")

# ARGV: job id, new state (cancelled | failed), now, job error JSON, allowed states
# (comma list), failing unit ('' = none), its error JSON. Stops a job at once: every unit
# not yet final is cancelled (its worker notices at its next heartbeat or page).
STOP = _script("""
local job_id, new_state, now, err, allowed, bad_unit, bad_err = unpack(ARGV)
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {0, 'gone'} end
local ok = false
for s in string.gmatch(allowed, '[^,]+') do if s == state then ok = true end end
if not ok then return {0, state} end
for _, unit in ipairs(unit_names()) do
  if not FINAL[redis.call('HGET', KEYS[2], uf(unit, 'state'))] then
    local to = 'cancelled'
    if unit == bad_unit then
      to = 'failed'
      redis.call('HSET', KEYS[2], uf(unit, 'error'), bad_err)
    end
    redis.call('HSET', KEYS[2], uf(unit, 'state'), to, uf(unit, 'finished_at'), now)
    redis.call('HDEL', KEYS[2], uf(unit, 'owner'), uf(unit, 'next_attempt_at'))
    redis.call('ZREM', '@HEARTBEATS@', job_id .. ' ' .. unit)
  end
end
set_state(job_id, state, new_state)
redis.call('HSET', KEYS[1], 'pending', 0)
if err ~= '' then redis.call('HSET', KEYS[1], 'error', err) end
finished(job_id, now)
return {1, state}
""")

# ARGV: job id. A finished job runs its failed and cancelled units again, in the same job.
# Returns {1, unit, unit, ...} or {0, why}.
RETRY = _script("""
local job_id = ARGV[1]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {0, 'gone'} end
if state == 'succeeded' then return {0, 'nothing_to_retry'} end
if state ~= 'failed' and state ~= 'partially_succeeded' and state ~= 'cancelled' then
  return {0, state}
end
local again = {}
for _, unit in ipairs(unit_names()) do
  local ustate = redis.call('HGET', KEYS[2], uf(unit, 'state'))
  if ustate == 'failed' or ustate == 'cancelled' then
    redis.call('HSET', KEYS[2], uf(unit, 'state'), 'queued', uf(unit, 'requeues'), 0)
    redis.call('HDEL', KEYS[2], uf(unit, 'error'), uf(unit, 'finished_at'),
               uf(unit, 'next_attempt_at'), uf(unit, 'owner'), uf(unit, 'dispatched_at'),
               uf(unit, 'started_at'))
    table.insert(again, unit)
  end
end
if #again == 0 then return {0, 'nothing_to_retry'} end
set_state(job_id, state, 'running')
redis.call('HSET', KEYS[1], 'pending', #again)
redis.call('HINCRBY', KEYS[1], 'retries', 1)
redis.call('HDEL', KEYS[1], 'error', 'finished_at', 'published', 'outcome_counted')
redis.call('ZREM', '@FINISHED@', job_id)
redis.call('ZREM', '@PUBLISHING@', job_id)
local reply = {1}
for _, unit in ipairs(again) do table.insert(reply, unit) end
return reply
""")

# ARGV: job id, unit, stale before. The reaper's move: a unit whose owner stopped
# heartbeating goes back to `queued`. Returns 1 when requeued (send its task again).
REQUEUE_STALLED = _script("""
local job_id, unit, stale_before = unpack(ARGV)
local member = job_id .. ' ' .. unit
local beat = tonumber(redis.call('ZSCORE', '@HEARTBEATS@', member) or '0')
if beat > tonumber(stale_before) then return 0 end
redis.call('ZREM', '@HEARTBEATS@', member)
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
if not ACTIVE[redis.call('HGET', KEYS[2], uf(unit, 'state'))] then return 0 end
redis.call('HSET', KEYS[2], uf(unit, 'state'), 'queued')
redis.call('HDEL', KEYS[2], uf(unit, 'owner'), uf(unit, 'dispatched_at'))
redis.call('HINCRBY', KEYS[2], uf(unit, 'requeues'), 1)
return 1
""")

# KEYS: job, units, records, files, notifications. ARGV: job id, due-notifications key.
# Forgets a job entirely (its files are the caller's to remove).
DELETE = _script("""
local job_id, due = unpack(ARGV)
local state = redis.call('HGET', KEYS[1], 'state')
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then
  redis.call('ZREM', '@OWNER@' .. owner, job_id)
  if state then redis.call('ZREM', '@OWNER@' .. owner .. ':state:' .. state, job_id) end
end
for _, unit in ipairs(unit_names()) do
  redis.call('ZREM', '@HEARTBEATS@', job_id .. ' ' .. unit)
end
for _, id in ipairs(redis.call('HKEYS', KEYS[5])) do
  redis.call('ZREM', due, job_id .. ' ' .. id)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('ZREM', 'rxp:jobs', job_id)
if state then redis.call('ZREM', '@INDEX@' .. state, job_id) end
redis.call('ZREM', '@FINISHED@', job_id)
redis.call('ZREM', '@PUBLISHING@', job_id)
return state and 1 or 0
""")

# KEYS: the due-notifications zset. ARGV: now, lease end. Takes (moves to the lease end)
# every delivery due by now, so that concurrent dispatchers never send one twice.
TAKE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""
