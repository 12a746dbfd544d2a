-- asgi.dev/paused: "true" holds the rollout where it is: no analysis, no step.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["asgi.dev/paused"] = "true"
return obj
