-- wrk script: POST one chat completion per request; prints a JSON summary line at the end.
-- Env: BENCH_TOKEN (bearer), BENCH_MODEL, BENCH_ROUTING (X-Routing-Mode, optional).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "none")
local routing = os.getenv("BENCH_ROUTING")
if routing and routing ~= "" then
  wrk.headers["X-Routing-Mode"] = routing
end
wrk.body = '{"model":"' .. (os.getenv("BENCH_MODEL") or "bench-model")
  .. '","messages":[{"role":"system","content":"You are a benchmark."},'
  .. '{"role":"user","content":"Say hello to the benchmark, briefly and kindly."}]}'

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
      .. '"errors":%d,"non2xx":%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
