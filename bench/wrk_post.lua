-- wrk script for the closed-loop runs: POST the benchmark mix, every request a new author.
-- Templates (one JSON body per line, "@N@" where the author number goes) come from WRK_TEMPLATES;
-- the summary is written as JSON to WRK_OUT. Driven by bench/throughput.py.
local pieces = {}
local counter = 0
local base = 0
local key = os.getenv("WRK_KEY") or ""

local function split(s, sep)
  local out, i = {}, 1
  while true do
    local j = string.find(s, sep, i, true)
    if not j then out[#out + 1] = string.sub(s, i); return out end
    out[#out + 1] = string.sub(s, i, j - 1)
    i = j + #sep
  end
end

local thread_no = 0
function setup(thread)
  thread:set("thread_no", thread_no)
  thread_no = thread_no + 1
end

function init(args)
  for line in io.lines(os.getenv("WRK_TEMPLATES")) do
    pieces[#pieces + 1] = split(line, "@N@")
  end
  -- Distinct numbers per run and thread: runs share one database, so authors must never repeat.
  base = tonumber(os.getenv("WRK_BASE") or "0") + (thread_no or 0) * 10000000
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
end

function request()
  counter = counter + 1
  local p = pieces[(counter % #pieces) + 1]
  local n = tostring(base + counter)
  local body = table.concat(p, n)
  return wrk.format(nil, "/v1/comments", nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = io.open(os.getenv("WRK_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, ' ..
    '"mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
  out:close()
end
