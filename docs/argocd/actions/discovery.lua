-- Which AsgiService actions Argo CD offers, enabled exactly when the operator would act on them: promote,
-- promote-full and abort while a canary is in progress (or a new spec is not seen yet), but promote not while
-- paused (a paused rollout takes no step: the request would be used up for nothing); retry after a rollback or
-- failure while the spec still renders that revision; pause unless paused, resume when paused.
local actions = {}
local status = obj.status or {}
local rollout = status.rollout or {}
local phase = rollout.phase or "Idle"
local annotations = obj.metadata.annotations or {}
local pausedValue = annotations["asgi.dev/paused"]
local paused = pausedValue == "true" or pausedValue == "True" or pausedValue == "TRUE"
local unseen = status.observedGeneration ~= obj.metadata.generation
local canary = phase == "Progressing" or unseen
local retryable = (phase == "RolledBack" or phase == "Failed")
  and rollout.failedRevision ~= nil
  and rollout.failedRevision == status.revision

actions["promote"] = {["disabled"] = not canary or paused}
actions["promote-full"] = {["disabled"] = not canary}
actions["abort"] = {["disabled"] = not canary}
actions["retry"] = {["disabled"] = not retryable}
actions["pause"] = {["disabled"] = paused}
actions["resume"] = {["disabled"] = not paused}
return actions
