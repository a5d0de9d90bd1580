-- Chunk-level locals: a counter, a cache table and a list, the careless author's in-process state.
local lk = require "lk"
local MARK = lk.marker("chunk_locals")

local counter = 0
local cache = {}
local list = {}
local last_request_id = nil

return {
  ["GET /chunk_locals/plant"] = function(req)
    local out = {}
    lk.try(out, "counter", function() counter = counter + 1 end)
    lk.try(out, "cache", function() cache[MARK] = MARK cache.user = { id = 1 } end)
    lk.try(out, "list", function() list[#list + 1] = MARK end)
    lk.try(out, "last request id", function() last_request_id = req.id end)
    return lk.report(out)
  end,

  ["GET /chunk_locals/probe"] = function(req)
    local problems = {}
    if counter ~= 0 then problems[#problems + 1] = "counter is " .. counter end
    if next(cache) ~= nil then problems[#problems + 1] = "cache holds " .. tostring(next(cache)) end
    if #list ~= 0 then problems[#problems + 1] = "list has " .. #list .. " entries" end
    if last_request_id ~= nil then
      problems[#problems + 1] = "last request id is " .. tostring(last_request_id)
    end
    return lk.verdict(problems)
  end,
}
