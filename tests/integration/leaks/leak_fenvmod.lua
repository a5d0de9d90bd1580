-- A module (no route keys) whose chunk, when LEAK_module_fenv_plant is set, replaces its own
-- environment with setfenv(1): the environment of the compiled chunk the host keeps. What the
-- chunk sees before doing so tells whether a previous run's environment is still in place.
local seen = {
  leak = LEAK_module_fenv,
  env_is_request = rawequal(getfenv(1), getfenv(0)),
}
if LEAK_module_fenv_plant then
  setfenv(1, setmetatable({ LEAK_module_fenv = LEAK_module_fenv_plant }, { __index = getfenv(0) }))
  LEAK_module_fenv_global = LEAK_module_fenv_plant
end
return {
  seen = seen,
  later = function() return LEAK_module_fenv end,
}
