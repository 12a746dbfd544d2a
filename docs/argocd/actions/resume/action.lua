-- asgi.dev/paused: "false" lets the rollout go on. (Set rather than removed: Argo CD restores a map an action
-- empties, so removing the only annotation would change nothing.)
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["asgi.dev/paused"] = "false"
return obj
