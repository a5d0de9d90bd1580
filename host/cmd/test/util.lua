-- luassert's value rules, which spies, stubs and matchers share: how a call's arguments are kept
-- (a deep copy as they were, spies and matchers inside left as they are, next to the references
-- themselves), how kept arguments are compared with expected ones (deeply, a matcher applied in
-- place of a value, match.is_ref against the reference), and its deep comparison.
local M = {}

local unpack = unpack or table.unpack

function M.pack(...) return { n = select("#", ...), ... } end
function M.unpack(t, i, j) return unpack(t, i or 1, j or t.n or #t) end

local arglist_mt = { __values_list = true } -- test.format prints it as "(values list) (...)"
function M.make_arglist(...)
  return setmetatable({ n = select("#", ...), ... }, arglist_mt)
end
function M.is_arglist(v) return getmetatable(v) == arglist_mt end

function M.callable(v)
  return type(v) == "function" or type((debug.getmetatable(v) or {}).__call) == "function"
end

-- Deep equality as luassert's: tables with one metatable holding __eq compare with it (unless
-- ignore_mt), others key by key; cycles end the walk. Returns equal, crumbs (innermost first).
function M.deepcompare(t1, t2, ignore_mt, cycles, thresh1, thresh2)
  if type(t1) ~= "table" or type(t2) ~= "table" then return t1 == t2 end
  local mt1, mt2 = debug.getmetatable(t1), debug.getmetatable(t2)
  if mt1 and mt1 == mt2 and mt1.__eq then
    if not ignore_mt then return t1 == t2 end
  elseif rawequal(t1, t2) then
    return true
  end
  cycles = cycles or { {}, {} }
  thresh1, thresh2 = thresh1 or 1, thresh2 or 1
  cycles[1][t1] = cycles[1][t1] or 0
  cycles[2][t2] = cycles[2][t2] or 0
  if cycles[1][t1] == 1 or cycles[2][t2] == 1 then
    thresh1 = cycles[1][t1] + 1
    thresh2 = cycles[2][t2] + 1
  end
  if cycles[1][t1] > thresh1 and cycles[2][t2] > thresh2 then return true end
  cycles[1][t1] = cycles[1][t1] + 1
  cycles[2][t2] = cycles[2][t2] + 1
  for k1, v1 in next, t1 do
    local v2 = t2[k1]
    if v2 == nil then return false, { k1 } end
    local same, crumbs = M.deepcompare(v1, v2, nil, cycles, thresh1, thresh2)
    if not same then
      crumbs = crumbs or {}
      table.insert(crumbs, k1)
      return false, crumbs
    end
  end
  for k2 in next, t2 do
    if t1[k2] == nil then return false, { k2 } end
  end
  cycles[1][t1] = cycles[1][t1] - 1
  cycles[2][t2] = cycles[2][t2] - 1
  return true
end

local function is_spy(v) return (require "test.spy").is_spy(v) end
local function is_matcher(v) return (require "test.match").is_matcher(v) end

function M.shallowcopy(t)
  if type(t) ~= "table" then return t end
  local copy = setmetatable({}, getmetatable(t))
  for k, v in next, t do copy[k] = v end
  return copy
end

-- Spies inside are kept, not copied; the copy has the original's metatable.
function M.deepcopy(t, cache)
  if type(t) ~= "table" then return t end
  cache = cache or {}
  if cache[t] then return cache[t] end
  local copy = {}
  cache[t] = copy
  for k, v in next, t do
    copy[k] = is_spy(v) and v or M.deepcopy(v, cache)
  end
  debug.setmetatable(copy, debug.getmetatable(t))
  return copy
end

-- A call's arguments (or results) as a spy keeps them: vals, copies; refs, the values.
function M.copyargs(args)
  local copy = setmetatable({}, getmetatable(args))
  for k, v in pairs(args) do
    copy[k] = (is_matcher(v) or is_spy(v)) and v or M.deepcopy(v)
  end
  return { vals = copy, refs = M.shallowcopy(args) }
end

local function matcharg(args, argrefs, specs)
  for idx, argval in pairs(args) do
    local spec = specs[idx]
    if is_matcher(spec) then
      if spec.name == "ref" then argval = argrefs[idx] end
      if not spec(argval) then return false end
    elseif spec == nil or not M.deepcompare(argval, spec) then
      return false
    end
  end
  for idx, spec in pairs(specs) do
    if args[idx] == nil then
      if not (is_matcher(spec) and spec(nil)) then return false end
    end
  end
  return true
end

-- The last kept call (or result) matching specs, or nil.
function M.matchargs(list, specs)
  for i = #list, 1, -1 do
    if matcharg(list[i].vals, list[i].refs, specs) then return list[i] end
  end
  return nil
end

-- The first on_call_with rule matching a call's arguments, or nil.
function M.matchoncalls(oncalls, args)
  for _, rule in ipairs(oncalls) do
    if matcharg(args, args, rule.vals) then return rule end
  end
  return nil
end

-- The __index of luassert's chain states (assert.is_not.equal, match.is.Not.string): each key
-- adds its words, split at _, to state.tokens, until a call reads them (extract_keys).
function M.gather_words(state, key)
  for token in tostring(key):lower():gmatch("[^_]+") do table.insert(state.tokens, token) end
  return state
end

-- The names of assertions (or matchers) and modifiers in the words gathered (assert.is_not.equal
-- gathers is, not, equal), as luassert's extract_keys finds them: from the last word back, the
-- longest known name first. Raises for a word that is neither, naming `what` is unknown.
function M.extract_keys(tokens, names, modifiers, what)
  local keys, key, i = {}, nil, #tokens
  while i > 0 do
    key = key and (tokens[i] .. "_" .. key) or tokens[i]
    local longer = i > 1 and (tokens[i - 1] .. "_" .. key) or nil
    while i > 1 and longer and names[longer] do
      key = longer
      i = i - 1
      longer = tokens[i] .. "_" .. key
    end
    if modifiers[key] ~= nil or names[key] then
      table.insert(keys, 1, key)
      key = nil
    end
    i = i - 1
  end
  if key then error("luassert: unknown " .. what .. ": '" .. key .. "'", 3) end
  return keys
end

return M
