-- wrk script: POST one chat completion per request; prints a JSON summary line at the end.
-- Env: BENCH_TOKEN (bearer), BENCH_MODEL, BENCH_ROUTING (X-Routing-Mode, optional),
-- BENCH_BODY (optional: the whole JSON body instead of the default one; each "{n}" in it
-- becomes a per-request counter, so no two requests of a run send the same body).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "none")
local routing = os.getenv("BENCH_ROUTING")
if routing and routing ~= "" then
  wrk.headers["X-Routing-Mode"] = routing
end
-- BENCH_HEADERS: extra "Name: value" lines (Portkey's routing headers).
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
else
  wrk.body = '{"model":"' .. (os.getenv("BENCH_MODEL") or "bench-model")
    .. '","messages":[{"role":"system","content":"You are a benchmark."},'
    .. '{"role":"user","content":"Say hello to the benchmark, briefly and kindly."}]}'
end

-- Only bodies that must differ pay for a request() function: with a fixed body wrk sends
-- one pre-built request, which keeps the load generator cheap for the fast configurations.
if string.find(wrk.body, "{n}", 1, true) then
  local template, counter = wrk.body, 0
  request = function()
    counter = counter + 1
    -- wrk runs one Lua state per thread: the thread's id keeps counters of two threads apart.
    local text = string.gsub(template, "{n}", (thread_id or 0) .. "-" .. counter)
    return wrk.format(nil, nil, nil, text)
  end
end

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
