"""How the API client is configured: from a kubeconfig ($KUBECONFIG, ~/.kube/config, or a given file and
context) or the in-cluster service account."""

from __future__ import annotations

from typing import Final

from kubernetes import client, config

# No usable kubeconfig: what a caller that talks to a person reports rather than crashes on.
CONFIG_ERRORS: Final = (config.ConfigException, FileNotFoundError)


def load_client(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    connections: int | None = None,
    transport_retries: bool = True,
) -> client.ApiClient:
    """An ApiClient from the given kubeconfig, $KUBECONFIG / ~/.kube/config, or the in-cluster account. With
    `context`, that context of the kubeconfig (never the in-cluster account). `connections`: how many it keeps
    open at once (default: 5 per CPU); a request beyond that opens a connection and closes it afterwards.
    `transport_retries=False`: a refused or broken connection fails at once (urllib3 otherwise tries 3 times more,
    logging each), for a caller that waits for the server its own way."""
    configuration = client.Configuration()
    if connections is not None:
        configuration.connection_pool_maxsize = connections
    if not transport_retries:
        configuration.retries = False
    if kubeconfig or context:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    else:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)
    return client.ApiClient(configuration)


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
