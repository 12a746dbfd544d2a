"""Every label and annotation key the operator reads or writes, in one place."""

from typing import Final

GROUP: Final = "asgi.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "AsgiService"
PLURAL: Final = "asgiservices"
SINGULAR: Final = "asgiservice"
SHORT_NAMES: Final = ("asgi", "asvc")

FIELD_MANAGER: Final = "asgi-operator"
# Sets a Deployment's replicas once, when the HPA is about to own them (see controller.reconciler).
REPLICAS_FIELD_MANAGER: Final = "asgi-operator-initial-replicas"
MANAGED_BY: Final = "asgi-operator"

# Labels on every child object and every pod.
LABEL_NAME: Final = "asgi.dev/name"  # the owning AsgiService
LABEL_TRACK: Final = "asgi.dev/track"  # stable | canary (pods and per-track objects)
LABEL_REVISION: Final = "asgi.dev/revision"  # hash of the rendered pod template (pods only)
# on a pre-deploy Job's pods instead of asgi.dev/name, so that no Service, PDB or PodMonitor selects them
LABEL_PRE_DEPLOY: Final = "asgi.dev/pre-deploy-of"
LABEL_K8S_NAME: Final = "app.kubernetes.io/name"
LABEL_K8S_MANAGED_BY: Final = "app.kubernetes.io/managed-by"

TRACK_STABLE: Final = "stable"
TRACK_CANARY: Final = "canary"

# Annotations on child objects.
ANNOTATION_CONFIG_HASH: Final = "asgi.dev/config-hash"  # hash of the desired manifest last applied

# Annotations a person (or `kubectl asgi`) puts on an AsgiService to steer a rollout.
ANNOTATION_PAUSED: Final = "asgi.dev/paused"  # "true": hold the rollout where it is
ANNOTATION_REQUEST: Final = "asgi.dev/request"  # "<verb>/<id>": promote, promote-full, abort, retry
