"""Volumes and volume mounts: the subset of a Pod's volume sources an app needs, in Kubernetes' own shape.

Supported sources: configMap, secret, emptyDir, projected (configMap, secret, downwardAPI, serviceAccountToken),
persistentVolumeClaim and csi. hostPath is refused with the reason (the "restricted" Pod Security Standard
forbids it); every other source of a Pod (nfs, iscsi, ephemeral, image, the in-tree cloud disks, ...) is not
supported and rejected as an unknown field.

The operator owns two volumes of its own: `tmp` (an emptyDir at /tmp, since the root filesystem is read-only)
and `prometheus-multiproc` (a memory emptyDir for prometheus_client's multiprocess mode when workers > 1).
Their names and mount paths are reserved.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import Field

from .base import Model
from .patterns import DNS_LABEL_PATTERN, DNS_SUBDOMAIN_PATTERN, Quantity
from .rules import Rule, cel_string

# The operator's own volumes and where it mounts them (render/workload.py renders them).
TMP_VOLUME: Final = "tmp"
TMP_DIR: Final = "/tmp"  # noqa: S108
MULTIPROC_VOLUME: Final = "prometheus-multiproc"
MULTIPROC_DIR: Final = "/var/run/prometheus-multiproc"
EDGE_VOLUME: Final = "asgi-edge"  # the asgi_edge wrapper (render/edge.py)
EDGE_DIR: Final = "/opt/asgi-edge"
RESERVED_VOLUME_NAMES: Final = (TMP_VOLUME, MULTIPROC_VOLUME, EDGE_VOLUME)
RESERVED_MOUNT_PATHS: Final = (TMP_DIR, MULTIPROC_DIR, EDGE_DIR)

MAX_VOLUMES: Final = 32
MAX_MOUNTS: Final = 32
MAX_ITEMS: Final = 16
MAX_SOURCES: Final = 8

# A path inside a volume (items[].path, subPath): relative, no '..' element, no empty element. A pattern, not a
# CEL rule: these sit deep in nested lists, where a CEL rule's estimated cost would exceed the CRD's budget.
_PATH_ELEMENT: Final = r"(\.|\.\.[^/]+|\.?[^/.][^/]*)"
RELATIVE_PATH_PATTERN: Final = f"^{_PATH_ELEMENT}(/{_PATH_ELEMENT})*$"
# file modes: 0000..0777 (octal); YAML 0644 is 420
MAX_MODE: Final = 0o777

Mode = Annotated[int, Field(ge=0, le=MAX_MODE)]


def _cel_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(cel_string(v) for v in values) + "]"


def _relative_path(description: str) -> Any:
    return Field(min_length=1, max_length=253, pattern=RELATIVE_PATH_PATTERN, description=description)


class KeyToPath(Model):
    """One key of a ConfigMap or Secret, projected to a file."""

    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$", description="The key to project.")
    path: str = _relative_path("The file's path relative to the mount point (no leading '/', no '..').")
    mode: Mode | None = Field(None, description="File mode bits (0000 to 0777; in YAML, 0644 is written 420).")


_ITEMS_DESCRIPTION: Final = "Only these keys, as these files (unset: every key, as a file named after it)."


class ConfigMapVolumeSource(Model):
    """The keys of a ConfigMap as files."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The ConfigMap.")
    items: list[KeyToPath] | None = Field(None, max_length=MAX_ITEMS, description=_ITEMS_DESCRIPTION)
    default_mode: Mode | None = Field(None, description="Mode of the files (0000 to 0777). Kubernetes' default: 0644.")
    optional: bool | None = Field(None, description="Start the pod even if the ConfigMap does not exist.")


class SecretVolumeSource(Model):
    """The keys of a Secret as files."""

    secret_name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The Secret.")
    items: list[KeyToPath] | None = Field(None, max_length=MAX_ITEMS, description=_ITEMS_DESCRIPTION)
    default_mode: Mode | None = Field(None, description="Mode of the files (0000 to 0777). Kubernetes' default: 0644.")
    optional: bool | None = Field(None, description="Start the pod even if the Secret does not exist.")


class EmptyDirVolumeSource(Model):
    """A scratch directory that lives as long as the pod."""

    medium: Literal["", "Memory"] | None = Field(None, description="'Memory' for a tmpfs; unset: the node's disk.")
    size_limit: Quantity | None = Field(None, description="The most the directory may hold, e.g. 1Gi.")


class PersistentVolumeClaimVolumeSource(Model):
    """A PersistentVolumeClaim in the AsgiService's namespace (with several replicas it must be ReadWriteMany or
    ReadOnlyMany)."""

    claim_name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The claim.")
    read_only: bool | None = Field(None, description="Mount the claim read-only.")


class SecretReference(Model):
    """A Secret in the pod's namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The Secret.")


class CSIVolumeSource(Model):
    """An inline volume of a CSI driver (e.g. the Secrets Store CSI driver)."""

    driver: str = Field(
        min_length=1, max_length=63, pattern=DNS_SUBDOMAIN_PATTERN, description="The CSI driver's name."
    )
    read_only: bool | None = Field(None, description="Mount the volume read-only.")
    fs_type: str | None = Field(None, max_length=63, description="The filesystem type, e.g. ext4.")
    volume_attributes: dict[str, Annotated[str, Field(max_length=1024)]] | None = Field(
        None, max_length=32, description="Driver-specific attributes."
    )
    node_publish_secret_ref: SecretReference | None = Field(
        None, description="A Secret passed to the driver's NodePublishVolume call."
    )


class ObjectFieldSelector(Model):
    """A field of the pod."""

    field_path: str = Field(
        min_length=1, max_length=256, description="e.g. metadata.name, metadata.labels['app'], metadata.namespace."
    )
    api_version: str | None = Field(None, max_length=64, description="Version of the schema of fieldPath (v1).")


class DownwardAPIVolumeFile(Model):
    """A field of the pod as a file."""

    path: str = _relative_path("The file's path relative to the mount point (no leading '/', no '..').")
    field_ref: ObjectFieldSelector = Field(description="The pod field written to the file.")
    mode: Mode | None = Field(None, description="File mode bits (0000 to 0777).")


class DownwardAPIProjection(Model):
    """Fields of the pod as files."""

    items: list[DownwardAPIVolumeFile] = Field(max_length=MAX_ITEMS, description="The files.")


class ConfigMapProjection(Model):
    """The keys of a ConfigMap as files in a projected volume."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The ConfigMap.")
    items: list[KeyToPath] | None = Field(None, max_length=MAX_ITEMS, description=_ITEMS_DESCRIPTION)
    optional: bool | None = Field(None, description="Start the pod even if the ConfigMap does not exist.")


class SecretProjection(Model):
    """The keys of a Secret as files in a projected volume."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN, description="The Secret.")
    items: list[KeyToPath] | None = Field(None, max_length=MAX_ITEMS, description=_ITEMS_DESCRIPTION)
    optional: bool | None = Field(None, description="Start the pod even if the Secret does not exist.")


class ServiceAccountTokenProjection(Model):
    """A token of the pod's service account for another audience (e.g. a cloud's workload identity)."""

    path: str = _relative_path("The token file's path relative to the mount point.")
    audience: str | None = Field(None, max_length=256, description="Who the token is for (unset: the API server).")
    expiration_seconds: int | None = Field(
        None, ge=600, le=2**32, description="Requested lifetime (at least 600; the kubelet rotates it)."
    )


class VolumeProjection(Model):
    """One source of a projected volume: exactly one of configMap, secret, downwardAPI, serviceAccountToken."""

    config_map: ConfigMapProjection | None = Field(None, description="Keys of a ConfigMap.")
    secret: SecretProjection | None = Field(None, description="Keys of a Secret.")
    downward_api: DownwardAPIProjection | None = Field(None, alias="downwardAPI", description="Fields of the pod.")
    service_account_token: ServiceAccountTokenProjection | None = Field(None, description="A service account token.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "[has(self.configMap), has(self.secret), has(self.downwardAPI), has(self.serviceAccountToken)]"
            ".filter(x, x).size() == 1",
            "set exactly one of configMap, secret, downwardAPI and serviceAccountToken",
            lambda p: (
                sum(x is not None for x in (p.config_map, p.secret, p.downward_api, p.service_account_token)) == 1
            ),
        ),
    )


class ProjectedVolumeSource(Model):
    """Several sources in one directory."""

    sources: list[VolumeProjection] = Field(min_length=1, max_length=MAX_SOURCES, description="The sources.")
    default_mode: Mode | None = Field(None, description="Mode of the files (0000 to 0777). Kubernetes' default: 0644.")


class HostPathVolumeSource(Model):
    """Not allowed: the restricted Pod Security Standard forbids hostPath volumes."""

    path: str = Field(max_length=4096, description="Not allowed (hostPath is refused).")
    type: str | None = Field(None, max_length=64, description="Not allowed (hostPath is refused).")


_SOURCES: Final = ("configMap", "secret", "emptyDir", "projected", "persistentVolumeClaim", "csi")
HOST_PATH_MESSAGE: Final = (
    "hostPath volumes are not allowed: the restricted Pod Security Standard forbids them (a pod must not reach "
    "into its node); use a persistentVolumeClaim, a csi volume or an emptyDir"
)


class Volume(Model):
    """A volume of the pod: a name and exactly one source."""

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description=f"Unique in the pod; {', '.join(RESERVED_VOLUME_NAMES)} are the operator's.",
    )
    config_map: ConfigMapVolumeSource | None = Field(None, description="Keys of a ConfigMap as files.")
    secret: SecretVolumeSource | None = Field(None, description="Keys of a Secret as files.")
    empty_dir: EmptyDirVolumeSource | None = Field(None, description="A scratch directory for the pod's lifetime.")
    projected: ProjectedVolumeSource | None = Field(None, description="Several sources in one directory.")
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = Field(
        None, description="A PersistentVolumeClaim."
    )
    csi: CSIVolumeSource | None = Field(None, description="An inline CSI volume.")
    host_path: HostPathVolumeSource | None = Field(
        None, description="Not allowed: the restricted Pod Security Standard forbids hostPath volumes."
    )

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.hostPath)",
            HOST_PATH_MESSAGE,
            lambda v: v.host_path is None,
            ".hostPath",
        ),
        Rule(
            f"!(self.name in {_cel_list(RESERVED_VOLUME_NAMES)})",
            f"names {', '.join(RESERVED_VOLUME_NAMES)} are the operator's own volumes (/tmp, the "
            "prometheus_client multiprocess directory, the asgi_edge wrapper): choose another name",
            lambda v: v.name not in RESERVED_VOLUME_NAMES,
            ".name",
        ),
        Rule(
            "has(self.hostPath) || "
            + "["
            + ", ".join(f"has(self.{s})" for s in _SOURCES)
            + "].filter(x, x).size() == 1",
            f"set exactly one volume source: {', '.join(_SOURCES)}",
            lambda v: (
                v.host_path is not None
                or sum(
                    x is not None
                    for x in (v.config_map, v.secret, v.empty_dir, v.projected, v.persistent_volume_claim, v.csi)
                )
                == 1
            ),
        ),
    )


class VolumeMount(Model):
    """A volume of the pod mounted into a container."""

    name: str = Field(
        min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN, description="The volume (one of spec.volumes)."
    )
    mount_path: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^/",
        description=f"Absolute path in the container; {', '.join(RESERVED_MOUNT_PATHS)} are the operator's.",
    )
    sub_path: str | None = Field(
        None,
        max_length=253,
        pattern=RELATIVE_PATH_PATTERN,
        description="Mount only this path of the volume (a ConfigMap key as one file). Such a mount does not see "
        "updates of the ConfigMap or Secret.",
    )
    read_only: bool | None = Field(None, description="Mount read-only.")

    RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            f"!(self.mountPath in {_cel_list(RESERVED_MOUNT_PATHS)})",
            f"mountPath {', '.join(RESERVED_MOUNT_PATHS)} are where the operator mounts its own volumes (tmp, "
            "prometheus-multiproc, asgi-edge): choose another path",
            lambda m: m.mount_path not in RESERVED_MOUNT_PATHS,
            ".mountPath",
        ),
    )
