-- wrk script: the 80/20 read/write mix of bench/mix.py over MIX_USERS users.
-- Reads: GET state. Writes, split evenly: PATCH mute, PATCH device, POST state.
-- done() prints one RESULT line that bench/wrk.py parses (latencies in microseconds).
local users = tonumber(os.getenv("MIX_USERS") or "50")
local headers = { ["Content-Type"] = "application/json" }
local created = 0

function setup(thread)
  created = created + 1
  thread:set("stream", created)
end

function init(args)
  math.randomseed(stream or 1) -- one fixed random stream per thread: the same sequence every run
end

function request()
  local base = "/api/users/user" .. math.random(users)
  local roll = math.random(100)
  if roll <= 80 then
    return wrk.format("GET", base .. "/state")
  elseif roll <= 87 then
    local muted = math.random(2) == 1 and "true" or "false"
    return wrk.format("PATCH", base .. "/mute", headers, '{"isMuted": ' .. muted .. "}")
  elseif roll <= 94 then
    local body = '{"deviceId": "dev-' .. math.random(9) .. '", "deviceLabel": "Headset"}'
    return wrk.format("PATCH", base .. "/device", headers, body)
  end
  return wrk.format("POST", base .. "/state", headers, '{"isMuted": false, "deviceLabel": "Speakers"}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
