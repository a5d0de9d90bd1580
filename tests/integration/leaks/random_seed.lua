-- math.randomseed: seeding 42 must make only the planting request's sequence predictable.
local lk = require "lk"

return {
  ["GET /random_seed/plant"] = function(req)
    local out = {}
    lk.try(out, "math.randomseed(42)", math.randomseed, 42)
    out[#out + 1] = "first value: " .. tostring(math.random())
    lk.try(out, "math.randomseed via require", function() require("math").randomseed(42) end)
    return lk.report(out)
  end,

  ["GET /random_seed/probe"] = function(req)
    local problems = {}
    -- Sample first: nothing in this request has touched the generator yet.
    local a, b, c = math.random(), math.random(), math.random(1, 1000000)
    -- Then the seed-42 sequence, computed here, after sampling. The plant drew one value; a host
    -- that never reseeded would continue its sequence, so compare against the first 64.
    math.randomseed(42)
    local seq = {}
    for i = 1, 64 do seq[i] = math.random() end
    for i = 1, 63 do
      if seq[i] == a and seq[i + 1] == b then
        problems[#problems + 1] = "math.random follows the seed 42 planted earlier (value " .. i .. ")"
        break
      end
    end
    math.randomseed(42)
    local first = math.random()
    if first ~= seq[1] then problems[#problems + 1] = "math.randomseed(42) does not repeat its sequence" end
    if a == b then problems[#problems + 1] = "math.random repeats itself" end
    return lk.verdict(problems)
  end,
}
