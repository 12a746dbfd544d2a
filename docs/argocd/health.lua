-- Argo CD health of an AsgiService (asgi.dev), from what the operator writes: the kstatus conditions
-- (Ready, Reconciling, Stalled), status.phase and status.observedGeneration.
--   Healthy      Ready=True: the stable revision serves
--   Suspended    a rollout held by the asgi.dev/paused annotation (status.phase Paused)
--   Degraded     Stalled=True (rolled back, failed, a spec the operator cannot run) or status.phase Error
--   Progressing  anything else: deploying, a canary stepping, promoting, a generation not observed yet
-- Argo CD runs this without Lua's string library: only comparisons and `..`.
local hs = {}
local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end
if obj.metadata.generation ~= nil and status.observedGeneration ~= obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. obj.metadata.generation
  return hs
end

local function condition(kind)
  if status.conditions ~= nil then
    for _, c in ipairs(status.conditions) do
      if c.type == kind then
        return c
      end
    end
  end
  return nil
end

local function describe(c)
  if c == nil then
    return "phase " .. (status.phase or "Pending")
  end
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

local ready = condition("Ready")
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
elseif status.phase == "Paused" then
  hs.status = "Suspended"
  hs.message = describe(ready)
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
elseif status.phase == "Error" then
  hs.status = "Degraded"
  hs.message = describe(ready)
else
  hs.status = "Progressing"
  hs.message = describe(ready)
end
return hs
