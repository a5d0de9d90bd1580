-- Message templates by key, as spec files that register their own assertions expect from
-- `require "say"`: say:set(key, template), say(key, {args}) fills %s in order.
local say = { _registry = {} }

function say:set(key, template)
  self._registry[key] = template
end

function say:set_namespace() end -- one language only

local function fill(_, key, args)
  local template = say._registry[key]
  if not template then return nil end
  args = args or {}
  local i = 0
  return (template:gsub("%%s", function()
    i = i + 1
    local v = args[i]
    return v == nil and "nil" or tostring(v)
  end))
end

return setmetatable(say, { __call = fill })
