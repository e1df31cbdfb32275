-- Argo CD health of a spate IngestionPipeline, read from the status spate-operator writes
-- (kstatus conventions: observedGeneration, Ready, Reconciling, Stalled, and spate's
-- Degraded). Uses only Lua's base library, as Argo CD's sandbox allows.
local hs = {}
local status = obj.status
if status == nil or status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for spate-operator to report the pipeline's status"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for spate-operator to observe generation " .. generation
  return hs
end
local conditions = {}
for _, condition in ipairs(status.conditions) do
  conditions[condition.type] = condition
end
local function holds(condition)
  return condition ~= nil and condition.status == "True"
end
local function describe(condition)
  return condition.reason .. ": " .. condition.message
end
if holds(conditions.Stalled) then
  hs.status = "Degraded"
  hs.message = describe(conditions.Stalled)
  return hs
end
if holds(conditions.Degraded) then
  hs.status = "Degraded"
  hs.message = describe(conditions.Degraded)
  return hs
end
local ready = conditions.Ready
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if ready.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = ready.message
  return hs
end
if holds(ready) then
  hs.status = "Healthy"
else
  hs.status = "Progressing"
end
hs.message = describe(ready)
return hs
