-- asgi.dev/request: promote-full/<id>. The operator acts once on each new id; os.time() and the resourceVersion
-- make the id new at every click.
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["asgi.dev/request"] = "promote-full/argocd-" .. os.time() .. "-" .. (obj.metadata.resourceVersion or "0")
return obj
