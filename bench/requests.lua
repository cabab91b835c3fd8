-- wrk script of `bench/release.py`: sends the requests of a file round-robin and counts answers.
--
-- The file (path in LENDGATE_BENCH_REQUESTS) holds one request a line, fields separated by
-- tabs: METHOD, PATH, BODY (may be empty), then any number of `Name: value` headers. Each
-- thread starts at its own offset so that threads spread over the file. Every answer is
-- counted by HTTP status and, for refusals, by the `error` code of its JSON body, and the
-- requests sent are counted (those still in flight at the end are neither); `done` prints one line `LENDGATE_BENCH {...}` (JSON) with the counts and the latency percentiles.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("offset", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local function split(line)
   local fields = {}
   for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      table.insert(fields, field)
   end
   return fields
end

function init(args)
   requests = {}
   for line in io.lines(os.getenv("LENDGATE_BENCH_REQUESTS")) do
      local fields = split(line)
      local headers = {}
      for i = 4, #fields do
         local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
         if name then headers[name] = value end
      end
      local body = fields[3] ~= "" and fields[3] or nil
      table.insert(requests, wrk.format(fields[1], fields[2], headers, body))
   end
   -- `offset` is this thread's number; start a proportional way into the file.
   local count = tonumber(os.getenv("LENDGATE_BENCH_THREADS") or "1")
   position = math.floor(#requests * offset / count) % #requests
   statuses = {}
   codes = {}
   sent = 0
end

function request()
   sent = sent + 1
   position = position % #requests + 1
   return requests[position]
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if status >= 400 then
      local code = body and body:match('"error"%s*:%s*"([%w_]+)"') or "unreadable"
      codes[code] = (codes[code] or 0) + 1
   end
end

local function json_counts(counts)
   local parts = {}
   for name, count in pairs(counts) do
      table.insert(parts, string.format('"%s":%d', name, count))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local statuses, codes, sent = {}, {}, 0
   for _, thread in ipairs(threads) do
      sent = sent + thread:get("sent")
      for name, count in pairs(thread:get("statuses")) do
         statuses[name] = (statuses[name] or 0) + count
      end
      for name, count in pairs(thread:get("codes")) do
         codes[name] = (codes[name] or 0) + count
      end
   end
   local e = summary.errors
   io.write(string.format(
      'LENDGATE_BENCH {"requests":%d,"sent":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"statuses":%s,"codes":%s,"socket_errors":{"connect":%d,"read":%d,' ..
      '"write":%d,"timeout":%d}}\n',
      summary.requests, sent, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, json_counts(statuses), json_counts(codes),
      e.connect, e.read, e.write, e.timeout))
end
