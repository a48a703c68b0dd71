-- wrk script of the ingest figures. BENCH_MODE: "distinct" (every request a
-- new alert), "storm" (one alert, repeated) or "bare" (the ceiling view).
-- done() prints one line "BENCH_JSON {...}" that bench/ingest.py reads.

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode = os.getenv("BENCH_MODE") or "distinct"
  prefix = (os.getenv("BENCH_PREFIX") or "x") .. "-" .. thread_id
  counter = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  counter = counter + 1
  local instance = "storm-01"
  if mode ~= "storm" then
    instance = prefix .. "-" .. counter
  end
  local body = '{"name":"DiskFull","severity":"critical","status":"firing",'
    .. '"labels":{"instance":"' .. instance .. '","job":"node","team":"storage"},'
    .. '"annotations":{"summary":"Disk /var on ' .. instance .. ' is 95% full"}}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"status_errors":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
