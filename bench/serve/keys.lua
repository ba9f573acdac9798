-- wrk script: GET a random entity page of the keys listed in keys.txt (one path per line),
-- with the bearer token from the DOPPEL_TOKEN environment variable. With DELAY_MS set, each
-- connection waits that long after an answer before its next request (a paced load).
local paths = {}
local token = os.getenv("DOPPEL_TOKEN")
local pause = tonumber(os.getenv("DELAY_MS") or "")

if pause then
  delay = function()
    return pause
  end
end

init = function(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

request = function()
  return wrk.format("GET", paths[math.random(#paths)], { ["Authorization"] = "Bearer " .. token })
end
