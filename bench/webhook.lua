-- wrk script for bench/bench_webhook.py: POST pre-signed bodies, each wrk thread its own slice.
--
-- wrk -s bench/webhook.lua URL -- BODIES_FILE THREADS
-- BODIES_FILE: one delivery a line, "<hex signature> <json body>". Thread k (0-based) sends the
-- lines k, k+THREADS, k+2*THREADS, ... (disjoint slices), in order; at the end of its slice it
-- starts again (counted in `wraps`: for the webhook, sent twice is a duplicate).
-- done() prints one "BENCH thread=..." line per thread, read by the Python side.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   local file, count = args[1], tonumber(args[2])
   signatures, bodies = {}, {}
   local line_number = 0
   for line in io.lines(file) do
      if line_number % count == id then
         local space = line:find(" ", 1, true)
         signatures[#signatures + 1] = line:sub(1, space - 1)
         bodies[#bodies + 1] = line:sub(space + 1)
      end
      line_number = line_number + 1
   end
   slice, position, wraps, issued = #bodies, 0, 0, 0
   stored, duplicate, queued, other = 0, 0, 0, 0
   statuses = {}
end

function request()
   if position >= #bodies then
      position, wraps = 0, wraps + 1
   end
   position = position + 1
   issued = issued + 1
   return signed(position)
end

function signed(n)
   local headers = {
      ["Content-Type"] = "application/json",
      ["Timemoto-Signature"] = signatures[n],
   }
   return wrk.format("POST", nil, headers, bodies[n])
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if body:find('"status":"stored"', 1, true) then
      stored = stored + 1
   elseif body:find('"status":"duplicate"', 1, true) then
      duplicate = duplicate + 1
   elseif body:find('"status":"queued"', 1, true) then
      queued = queued + 1
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      local codes = {}
      for code, n in pairs(thread:get("statuses")) do
         codes[#codes + 1] = code .. ":" .. n
      end
      io.write(string.format(
         "BENCH thread=%d slice=%d issued=%d wraps=%d stored=%d duplicate=%d queued=%d other=%d codes=%s\n",
         thread:get("id"), thread:get("slice"), thread:get("issued"), thread:get("wraps"),
         thread:get("stored"), thread:get("duplicate"), thread:get("queued"),
         thread:get("other"), table.concat(codes, ",")))
   end
end
