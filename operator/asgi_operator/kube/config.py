"""How the API client is configured: from a kubeconfig ($KUBECONFIG, ~/.kube/config, or a given file and
context) or the in-cluster service account.

Certificates a kubeconfig embeds (`certificate-authority-data`, `client-certificate-data`, `client-key-data`) are
never written to a temporary file, as the client library's loader does: a container with a read-only root and no
writable /tmp could not start. The CA is given to urllib3 as data; Python's ssl module reads a client certificate
and key only from a path, so they get one in memory (a memfd, on Linux; elsewhere the loader's temporary file).
Kopf connects with the same (`connection`).
"""

from __future__ import annotations

import base64
import binascii
import copy
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import Any, Final

from kubernetes import client, config
from kubernetes.config import kube_config

# No usable kubeconfig: what a caller that talks to a person reports rather than crashes on.
CONFIG_ERRORS: Final = (config.ConfigException, FileNotFoundError)
NEEDS_TEMP_DIR: Final = (
    "the kubeconfig's credentials need a writable temporary directory ({cause}): mount one at /tmp (an emptyDir) "
    "or point TMPDIR at a writable directory"
)


def load_client(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    connections: int | None = None,
    transport_retries: bool = False,
) -> client.ApiClient:
    """An ApiClient from the given kubeconfig, $KUBECONFIG / ~/.kube/config, or the in-cluster account. With
    `context`, that context of the kubeconfig (never the in-cluster account). `connections`: how many it keeps
    open at once (default: 5 per CPU); a request beyond that opens a connection and closes it afterwards.
    A refused or broken connection fails at once (ApiUnreachable): the caller waits for the server its own way
    (the operator for /readyz, the plugin tells the user). `transport_retries=True`: urllib3 tries 3 times more
    at once, with a WARNING each."""
    configuration = load_configuration(kubeconfig, context)
    if connections is not None:
        configuration.connection_pool_maxsize = connections
    if not transport_retries:
        configuration.retries = False
    return client.ApiClient(configuration)


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> client.Configuration:
    """The client's configuration (see `load_client`). What still needs a temporary file (an exec plugin's client
    certificate, an OIDC provider's CA) fails, where there is none, with a ConfigException that says what to
    mount."""
    configuration = client.Configuration()
    try:
        if kubeconfig or context:
            _load_kubeconfig(configuration, kubeconfig, context)
        else:
            try:
                config.load_incluster_config(client_configuration=configuration)
            except config.ConfigException:
                _load_kubeconfig(configuration, None, None)
    except OSError as e:
        if _temporary_files_work():
            raise
        raise config.ConfigException(NEEDS_TEMP_DIR.format(cause=e)) from e
    return configuration


def _temporary_files_work() -> bool:
    try:
        tempfile.TemporaryFile().close()
    except OSError:
        return False
    return True


def _load_kubeconfig(configuration: client.Configuration, kubeconfig: str | None, context: str | None) -> None:
    """The client library's loader, given a copy of the kubeconfig whose active cluster and user keep their
    embedded certificates in memory."""
    merged = kube_config.KubeConfigMerger(kubeconfig or kube_config.KUBE_CONFIG_DEFAULT_LOCATION)
    if merged.config is None:
        raise config.ConfigException("Invalid kube-config file. No configuration found.")
    document = copy.deepcopy(merged.config)  # never the files' own: nothing is written back to them
    active = document["contexts"].get_with_name(context or document["current-context"])["context"]
    cluster: dict[str, Any] = document["clusters"].get_with_name(active["cluster"])["cluster"].value
    user_name = active.safe_get("user")
    found = document["users"].get_with_name(user_name, safe=True) if user_name and document.safe_get("users") else None
    user: dict[str, Any] = found["user"].value if found and found.safe_get("user") else {}
    ca_pem = None
    if cluster.get("certificate-authority-data"):
        ca_pem = _decoded(cluster.pop("certificate-authority-data"), "certificate-authority-data").decode()
        cluster.pop("certificate-authority", None)  # the data wins over a file, as in the loader
    for key in ("client-certificate", "client-key"):
        if user.get(f"{key}-data"):
            path = _memory_file(key, _decoded(user[f"{key}-data"], f"{key}-data"))
            if path is not None:  # else the loader's temporary file
                user[key] = path
                del user[f"{key}-data"]
    kube_config.KubeConfigLoader(config_dict=document, active_context=context, config_base_path=None).load_and_set(
        configuration
    )
    if ca_pem is not None and str(configuration.host).startswith("https"):
        configuration.ssl_ca_cert, configuration.ca_cert_data = None, ca_pem


def _decoded(data: object, field: str) -> bytes:
    try:
        out = base64.standard_b64decode(str(data))
        out.decode()
    except (binascii.Error, ValueError) as e:
        raise config.ConfigException(f"the kubeconfig's {field} is not base64-encoded PEM: {e}") from e
    return out


_memory_files: dict[bytes, str] = {}
_memory_lock = threading.Lock()


def _memory_file(name: str, content: bytes) -> str | None:
    """A path that reads `content` and is on no file system: a memfd, open for the life of the process (urllib3
    reads a client certificate again for each new connection; Kopf when it logs in again). One per content, so
    logging in again opens nothing new. None where there is no memfd (not Linux, or no /proc)."""
    create = getattr(os, "memfd_create", None)
    if create is None:
        return None
    with _memory_lock:
        if content not in _memory_files:
            try:
                fd = create(f"kubeconfig-{name}")
            except OSError:
                return None
            path, view = f"/proc/self/fd/{fd}", memoryview(content)
            try:
                while view:
                    view = view[os.write(fd, view) :]
                readable = os.path.isfile(path)
            except OSError:
                readable = False
            if not readable:
                os.close(fd)
                return None
            _memory_files[content] = path
        return _memory_files[content]


@dataclass(frozen=True)
class Connection:
    """How another HTTP client (Kopf's) reaches the API server as this process does: the CA as a file or as PEM
    (in memory), the client certificate and key as paths (in memory where the kubeconfig embeds them)."""

    server: str
    ca_file: str | None = None
    ca_pem: str | bytes | None = None
    insecure: bool = False
    scheme: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


def connection(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """The connection `load_client` would make, for Kopf (an exec plugin or token file is asked again)."""
    c = load_configuration(kubeconfig, context)
    scheme, _, token = (c.get_api_key_with_prefix("BearerToken") or "").partition(" ")
    if not token:  # a bare token, without a scheme
        scheme, token = "", scheme
    return Connection(
        server=str(c.host),
        ca_file=c.ssl_ca_cert,
        ca_pem=c.ca_cert_data,
        insecure=not c.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        username=c.username or None,
        password=c.password or None,
        cert_file=c.cert_file,
        key_file=c.key_file,
    )


def current_namespace(kubeconfig: str | None = None, context: str | None = None) -> str:
    """The namespace of the kubeconfig's current context (or of `context`), as kubectl picks it ('default' when
    unset)."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, FileNotFoundError, TypeError):
        return "default"
    if context:
        current = next((c for c in contexts or [] if c.get("name") == context), None)
    return str((current or {}).get("context", {}).get("namespace") or "default")


def contexts(kubeconfig: str | None = None) -> list[str]:
    """The names of the kubeconfig's contexts (for shell completion; none when it cannot be read)."""
    try:
        found, _ = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, FileNotFoundError, TypeError):
        return []
    return [str(c.get("name")) for c in found or [] if c.get("name")]
