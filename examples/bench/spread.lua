-- wrk script: spreads requests over the paths in a file, one path per line.
--   wrk -t2 -c64 -s spread.lua http://127.0.0.1:8000 -- paths.txt
-- Each thread walks the whole list from its own starting point, so the threads do not ask for
-- the same path at the same moment. Requests are formatted once, up front.

local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local requests = {}
local next_index = 1

function init(args)
  local file = assert(io.open(args[1], "r"), "no paths file: " .. tostring(args[1]))
  for path in file:lines() do
    if path ~= "" then
      requests[#requests + 1] = wrk.format("GET", path)
    end
  end
  file:close()
  assert(#requests > 0, "the paths file is empty")
  next_index = (id * 7919) % #requests + 1
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end
