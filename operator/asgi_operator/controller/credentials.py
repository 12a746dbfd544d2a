"""Which credentials an analysis sends to Prometheus, read when it runs (a rotated Secret or mounted file is used at
the next analysis, no restart, no cache).

- `spec.rollout.prometheus.auth` set: its Secrets and ConfigMaps, always in the AsgiService's own namespace
  (a spec can never make the operator read another namespace's Secret);
- unset, with no `address`: the operator-wide default credentials (files mounted in the operator's pod) for the
  operator-wide `--prometheus-url`;
- unset, with an `address`: none. The operator's own credentials are NEVER sent to an address an AsgiService
  chose: that would hand them to whoever runs it.

A credential that cannot be read is a `CredentialsError` naming where it should come from (namespace, name, key
or file path), never its value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..api.kinds import CONFIG_MAP, SECRET, Kind
from ..api.prom_auth import ConfigMapKeySelector, PrometheusAuth, SecretKeySelector
from ..api.rollout import PrometheusSpec
from ..kube.api import ApiError, Body
from ..prom.client import NO_AUTH, Auth

Read = Callable[[Kind, str, str], Body | None]  # KubeApi.get


class CredentialsError(Exception):
    """A credential could not be read. The message names its source, never a value."""


@dataclass(frozen=True)
class DefaultAuth:
    """The operator-wide credentials for the operator-wide Prometheus, as files (a mounted Secret or ConfigMap:
    the kubelet updates them in place when the Secret changes)."""

    bearer_token_file: str | None = None
    username_file: str | None = None
    password_file: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # (name, value)
    header_files: tuple[tuple[str, str], ...] = ()  # (name, path of the file holding the value)
    ca_file: str | None = None
    server_name: str | None = None

    @property
    def configured(self) -> bool:
        return any(
            (
                self.bearer_token_file,
                self.username_file,
                self.password_file,
                self.headers,
                self.header_files,
                self.ca_file,
                self.server_name,
            )
        )


@dataclass(frozen=True)
class Access:
    """What to send, and where it came from in words (for messages: sources, never values)."""

    auth: Auth = NO_AUTH
    sources: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        return ", ".join(self.sources) if self.sources else "no credentials"


def _clean(value: str, source: str) -> str:
    # whitespace around a token or password (the newline of `echo token > file`) is never part of it
    value = value.strip()
    if not value:
        raise CredentialsError(f"{source} is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise CredentialsError(f"{source} holds a control character (a value must fit in an HTTP header)")
    return value


class Credentials:
    def __init__(self, read: Read, defaults: DefaultAuth | None = None) -> None:
        self.read = read
        self.defaults = defaults or DefaultAuth()

    def resolve(self, namespace: str, prometheus: PrometheusSpec) -> Access:
        if prometheus.auth is not None:
            return self._from_spec(namespace, prometheus.auth)
        if prometheus.address is None and self.defaults.configured:
            return self._from_files(self.defaults)
        return Access()

    # ------------------------------------------------------------------ per AsgiService: Secrets, ConfigMaps
    def _from_spec(self, namespace: str, auth: PrometheusAuth) -> Access:
        sources: list[str] = []
        bearer: str | None = None
        basic: tuple[str, str] | None = None
        if auth.bearer_token is not None:
            ref = auth.bearer_token.secret_ref
            bearer = self._secret(namespace, ref)
            sources.append(f"bearer token from {_secret_source(namespace, ref)}")
        if auth.basic_auth is not None:
            user = auth.basic_auth.username
            if user.secret_ref is not None:
                username = self._secret(namespace, user.secret_ref)
                sources.append(f"username from {_secret_source(namespace, user.secret_ref)}")
            else:
                username = user.value or ""
            password_ref = auth.basic_auth.password.secret_ref
            basic = (username, self._secret(namespace, password_ref))
            sources.append(f"password from {_secret_source(namespace, password_ref)}")
        headers: list[tuple[str, str]] = []
        for header in auth.headers or []:
            if header.value_from is not None:
                ref = header.value_from.secret_key_ref
                headers.append((header.name, self._secret(namespace, ref)))
                sources.append(f"header {header.name} from {_secret_source(namespace, ref)}")
            else:
                headers.append((header.name, header.value or ""))
                sources.append(f"header {header.name}")
        ca_pem: str | None = None
        server_name: str | None = None
        if auth.tls is not None:
            if auth.tls.ca_secret_ref is not None:
                source = _secret_source(namespace, auth.tls.ca_secret_ref)
                ca_pem = _pem(self._secret(namespace, auth.tls.ca_secret_ref, strip=False), source)
                sources.append(f"CA from {source}")
            elif auth.tls.ca_config_map_ref is not None:
                source = _config_map_source(namespace, auth.tls.ca_config_map_ref)
                ca_pem = _pem(self._config_map(namespace, auth.tls.ca_config_map_ref), source)
                sources.append(f"CA from {source}")
            server_name = auth.tls.server_name
            if server_name is not None:
                sources.append(f"serverName {server_name}")
        return Access(
            Auth(
                bearer_token=bearer,
                basic=basic,
                headers=tuple(headers),
                ca_pem=ca_pem,
                server_name=server_name,
            ),
            tuple(sources),
        )

    def _get(self, kind: Kind, namespace: str, name: str, source: str) -> Body:
        try:
            body = self.read(kind, namespace, name)
        except ApiError as e:
            if e.forbidden:
                raise CredentialsError(f"{source}: the operator may not read it ({e.status} {e.reason})") from None
            raise CredentialsError(f"{source} could not be read: {e.status} {e.reason}") from None
        if body is None:
            raise CredentialsError(f"{source} not found")
        return body

    def _secret(self, namespace: str, ref: SecretKeySelector, *, strip: bool = True) -> str:
        source = _secret_source(namespace, ref)
        body = self._get(SECRET, namespace, ref.name, f"Secret {namespace}/{ref.name}")
        encoded = (body.get("data") or {}).get(ref.key)
        if encoded is None:
            raise CredentialsError(f"Secret {namespace}/{ref.name} has no key {ref.key}")
        try:
            value = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError(f"{source} is not UTF-8 text") from None
        return _clean(value, source) if strip else value

    def _config_map(self, namespace: str, ref: ConfigMapKeySelector) -> str:
        body = self._get(CONFIG_MAP, namespace, ref.name, f"ConfigMap {namespace}/{ref.name}")
        value = (body.get("data") or {}).get(ref.key)
        if value is None:
            raise CredentialsError(f"ConfigMap {namespace}/{ref.name} has no key {ref.key} in data")
        return str(value)

    # ------------------------------------------------------------------ operator-wide: mounted files
    def _from_files(self, d: DefaultAuth) -> Access:
        sources: list[str] = []
        bearer = _file(d.bearer_token_file, "--prometheus-bearer-token-file") if d.bearer_token_file else None
        if d.bearer_token_file:
            sources.append(f"bearer token from the operator's file {d.bearer_token_file}")
        basic: tuple[str, str] | None = None
        if d.username_file or d.password_file:
            if not (d.username_file and d.password_file):
                raise CredentialsError(
                    "the operator's basic auth needs both --prometheus-username-file and --prometheus-password-file"
                )
            basic = (
                _file(d.username_file, "--prometheus-username-file"),
                _file(d.password_file, "--prometheus-password-file"),
            )
            sources.append(f"basic auth from the operator's files {d.username_file}, {d.password_file}")
        headers = list(d.headers)
        sources += [f"header {name}" for name, _ in d.headers]
        for name, path in d.header_files:
            headers.append((name, _file(path, f"--prometheus-header-file {name}")))
            sources.append(f"header {name} from the operator's file {path}")
        ca_pem: str | None = None
        if d.ca_file:
            ca_pem = _pem(_file(d.ca_file, "--prometheus-ca-file", strip=False), f"the operator's CA file {d.ca_file}")
            sources.append(f"CA from the operator's file {d.ca_file}")
        if d.server_name:
            sources.append(f"serverName {d.server_name}")
        return Access(
            Auth(bearer_token=bearer, basic=basic, headers=tuple(headers), ca_pem=ca_pem, server_name=d.server_name),
            tuple(sources),
        )


def _secret_source(namespace: str, ref: SecretKeySelector) -> str:
    return f"Secret {namespace}/{ref.name} key {ref.key}"


def _config_map_source(namespace: str, ref: ConfigMapKeySelector) -> str:
    return f"ConfigMap {namespace}/{ref.name} key {ref.key}"


def _file(path: str, flag: str, *, strip: bool = True) -> str:
    source = f"the operator's {flag} {path}"
    try:
        value = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
        raise CredentialsError(f"{source} cannot be read: {reason}") from None
    return _clean(value, source) if strip else value


def _pem(text: str, source: str) -> str:
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise CredentialsError(f"{source} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return text
