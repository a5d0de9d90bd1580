-- A careless module (no route keys) that keeps its state in globals, for module_globals.
leak_globmod_loads = (leak_globmod_loads or 0) + 1
leak_globmod_registry = leak_globmod_registry or {}

local M = {}

function M.loads() return leak_globmod_loads end

function M.register(x) leak_globmod_registry[#leak_globmod_registry + 1] = x end

function M.registered() return #leak_globmod_registry end

return M
