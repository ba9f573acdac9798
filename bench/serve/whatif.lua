-- wrk script: POST a zone-failure what-if on the bundled estate, the zone picked at random.
local token = os.getenv("DOPPEL_TOKEN")
local zones = { "zone/us-east-1a", "zone/us-east-1b", "zone/us-east-1c" }

request = function()
  local body = '{"fail": ["' .. zones[math.random(#zones)] .. '"], "at": "peak"}'
  return wrk.format("POST", "/api/v1/what-if", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
