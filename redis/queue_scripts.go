package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts of Queue. Each receives every key it touches in
// KEYS, and all keys of one Queue share one hash tag, so each script
// runs on one Redis Cluster slot and Dragonfly can lock just that tag.
//
// Time comes from the server (TIME) inside every script, never from the
// client: due times, lease expiries and death times are then all on one
// clock however skewed the clients' clocks are. TIME followed by writes is
// allowed because Redis (5 and later, the only mode in 7) replicates a
// script's effects rather than the script.
//
// Per queue, with <q> = <prefix>{<namespace>}:q:<name>:
//
//	<q>:waiting   ZSET id → due time (unix ms)
//	<q>:inflight  ZSET id → lease expiry (unix ms)
//	<q>:dead      ZSET id → time of burial (unix ms)
//	<q>:data      HASH b:<id> body, a:<id> attempts, t:<id> claim token,
//	              r:<id> burial reason
//
// A message exists, in whatever state, exactly while its b:<id> field
// does; that is what makes IDs unique within a queue.

// redisNowLua sets now to the server time in unix milliseconds. The
// scripts keep every number they pass to Redis integral, so they read the
// same under Redis's Lua 5.1 (doubles) and Dragonfly's Lua 5.4 (integers).
const redisNowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// redisEnqueueScript adds messages to one or more queues: those of one
// Enqueue, or of several that arrived together.
//
// KEYS: waiting, data of queue 1, waiting, data of queue 2, …
// ARGV: per message: queue number (1-based), id, body, delay ms.
var redisEnqueueScript = goredis.NewScript(redisNowLua + `
for i = 1, #ARGV, 4 do
	local q = tonumber(ARGV[i]) * 2
	local id = ARGV[i + 1]
	if redis.call('HSETNX', KEYS[q], 'b:' .. id, ARGV[i + 2]) == 1 then
		redis.call('ZADD', KEYS[q - 1], now + tonumber(ARGV[i + 3]), id)
	end
end
return 1`)

// redisClaimScript first returns leases that ran out to waiting, due when
// they expired (at most ARGV[2] per call, which bounds the script's run
// time after a mass crash), then performs one or more claims in order,
// each leasing up to its max due messages in due order. The token of each
// message claimed is the client's fresh random ARGV[1] plus a slot number
// counted across the whole call: unique, and unguessable to an earlier
// holder.
//
// KEYS: waiting, inflight, data
// ARGV: token base, reap limit, then per claim: max, lease ms
// Returns per claim: n, then n times id, body, token, attempt
var redisClaimScript = goredis.NewScript(redisNowLua + `
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #expired, 2 do
	local id = expired[i]
	redis.call('ZREM', KEYS[2], id)
	redis.call('ZADD', KEYS[1], expired[i + 1], id)
	redis.call('HDEL', KEYS[3], 't:' .. id)
end
local out = {}
local slot = 0
for c = 3, #ARGV, 2 do
	local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[c])
	local expiry = now + tonumber(ARGV[c + 1])
	out[#out + 1] = #ids
	for _, id in ipairs(ids) do
		slot = slot + 1
		local token = ARGV[1] .. '-' .. slot
		redis.call('ZREM', KEYS[1], id)
		redis.call('ZADD', KEYS[2], expiry, id)
		redis.call('HSET', KEYS[3], 't:' .. id, token)
		local attempt = redis.call('HINCRBY', KEYS[3], 'a:' .. id, 1)
		local body = redis.call('HGET', KEYS[3], 'b:' .. id) or ''
		out[#out + 1] = id
		out[#out + 1] = body
		out[#out + 1] = token
		out[#out + 1] = attempt
	end
end
return out`)

// redisSettleScript acks, retries or buries claimed messages, each only
// if its token still holds an unexpired lease on it, in order. Returns 1
// for each message it acted on, else 0.
//
// KEYS: inflight, data, waiting, dead of queue 1, of queue 2, …
// ARGV: per message: queue number (1-based), id, token,
// "ack" | "retry" | "bury", delay ms (retry) or reason (bury)
var redisSettleScript = goredis.NewScript(redisNowLua + `
local out = {}
for i = 1, #ARGV, 5 do
	local k = (tonumber(ARGV[i]) - 1) * 4
	local inflight, data, waiting, dead = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
	local id, op = ARGV[i + 1], ARGV[i + 3]
	local expiry = redis.call('ZSCORE', inflight, id)
	if not expiry or tonumber(expiry) <= now or redis.call('HGET', data, 't:' .. id) ~= ARGV[i + 2] then
		out[#out + 1] = 0
	else
		redis.call('ZREM', inflight, id)
		if op == 'ack' then
			redis.call('HDEL', data, 'b:' .. id, 'a:' .. id, 't:' .. id, 'r:' .. id)
		elseif op == 'retry' then
			redis.call('HDEL', data, 't:' .. id)
			redis.call('ZADD', waiting, now + tonumber(ARGV[i + 4]), id)
		else
			redis.call('HDEL', data, 't:' .. id)
			redis.call('HSET', data, 'r:' .. id, ARGV[i + 4])
			redis.call('ZADD', dead, now, id)
		end
		out[#out + 1] = 1
	end
end
return out`)

// redisDeadLettersScript lists dead letters oldest first, in one atomic
// read so that a concurrent Requeue cannot leave half a record.
//
// KEYS: dead, data
// ARGV: index of the last letter to list (-1 = all)
// Returns: id, body, reason, attempt, died ms, id, …
var redisDeadLettersScript = goredis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, ARGV[1], 'WITHSCORES')
local out = {}
for i = 1, #ids, 2 do
	local id = ids[i]
	out[#out + 1] = id
	out[#out + 1] = redis.call('HGET', KEYS[2], 'b:' .. id) or ''
	out[#out + 1] = redis.call('HGET', KEYS[2], 'r:' .. id) or ''
	out[#out + 1] = redis.call('HGET', KEYS[2], 'a:' .. id) or '0'
	out[#out + 1] = ids[i + 1]
end
return out`)

// redisRequeueScript moves a dead letter back to waiting, due now, with
// its attempt count reset. Returns 0 if there was no such dead letter.
//
// KEYS: dead, waiting, data
// ARGV: id
var redisRequeueScript = goredis.NewScript(redisNowLua + `
local id = ARGV[1]
if redis.call('ZREM', KEYS[1], id) == 0 then
	return 0
end
redis.call('HDEL', KEYS[3], 'a:' .. id, 'r:' .. id)
redis.call('ZADD', KEYS[2], now, id)
return 1`)

// redisDeleteScript removes a message in any state.
//
// KEYS: waiting, inflight, dead, data
// ARGV: id
var redisDeleteScript = goredis.NewScript(`
local id = ARGV[1]
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[4], 'b:' .. id, 'a:' .. id, 't:' .. id, 'r:' .. id)
return 1`)

// redisStatsScript counts a queue's messages by state at one instant. An
// in-flight message whose lease ran out counts as ready, as it is claimable.
//
// KEYS: waiting, inflight, dead
// Returns: ready, delayed, in flight, dead
var redisStatsScript = goredis.NewScript(redisNowLua + `
local later = '(' .. string.format('%.0f', now)
local ready = redis.call('ZCOUNT', KEYS[1], '-inf', now) + redis.call('ZCOUNT', KEYS[2], '-inf', now)
local delayed = redis.call('ZCOUNT', KEYS[1], later, '+inf')
local inflight = redis.call('ZCOUNT', KEYS[2], later, '+inf')
return {ready, delayed, inflight, redis.call('ZCARD', KEYS[3])}`)
