"""A kubeconfig that embeds its certificates works where no temporary file can be written (a read-only root
without a writable /tmp): the operator's client and Kopf's connection keep them in memory. Against a real mutual-
TLS server here (tests.kube_tls); against the real API server in tests/integration/test_kube_client.py, which also
runs the whole operator on a read-only root."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import kopf
import pytest
from kubernetes import config

from asgi_operator import handlers
from asgi_operator.controller.settings import Settings
from asgi_operator.kube.api import ApiUnreachable, KubeApi, load_client
from kube_tls import Authority, MutualTlsServer, embedded_kubeconfig, write_kubeconfig

TOKEN = "t0ken"


@pytest.fixture
def no_temporary_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every temporary file fails, as on a read-only root with no /tmp mounted."""
    missing = str(tmp_path / "no-such-directory")
    monkeypatch.setenv("TMPDIR", missing)
    monkeypatch.setattr(tempfile, "tempdir", missing)
    with pytest.raises(OSError):
        tempfile.mkstemp()


@pytest.fixture
def authority() -> Authority:
    return Authority()


@pytest.fixture
def server(authority: Authority, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MutualTlsServer]:
    with MutualTlsServer(authority, tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.mark.usefixtures("no_temporary_directory")
def test_embedded_certificates_connect_with_no_usable_temporary_directory(
    authority: Authority, server: MutualTlsServer, tmp_path: Path
) -> None:
    document = embedded_kubeconfig(
        server.url, authority.pem, token=TOKEN, client=authority.issue("asgi-operator", server=False)
    )
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", document)
    api = KubeApi(load_client(str(kubeconfig)), timeout=5)
    assert api.reachable()
    assert api.reachable()  # a second connection reads the client certificate again
    assert server.seen[-1] == ("asgi-operator", f"Bearer {TOKEN}")  # the client certificate was presented


@pytest.mark.usefixtures("no_temporary_directory")
def test_kopf_logs_in_with_the_embedded_certificates_and_no_temporary_file(
    authority: Authority, server: MutualTlsServer, tmp_path: Path
) -> None:
    document = embedded_kubeconfig(server.url, authority.pem, client=authority.issue("kopf", server=False))
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", document)
    handlers.configure(Settings(kubeconfig=str(kubeconfig)))
    try:
        info = handlers.login(settings=kopf.OperatorSettings())
    finally:
        handlers.configure(Settings())
    assert info.server == server.url and info.ca_data and not info.ca_path
    # Kopf's own SSL context, as its aiohttp session makes it
    with urllib.request.urlopen(f"{server.url}/readyz", context=info.as_ssl_context(), timeout=5) as response:
        assert response.read() == b"ok"
    assert server.seen == [("kopf", "")]
    # logging in again (an expired token) opens no new in-memory file
    from asgi_operator.kube.config import connection

    assert connection(str(kubeconfig)).cert_file == info.certificate_path


def test_certificate_files_next_to_the_kubeconfig_still_work(
    authority: Authority, server: MutualTlsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = authority.issue("from-files", server=False)
    for name, pem in (("ca.crt", authority.pem), ("client.crt", cert), ("client.key", key)):
        (tmp_path / name).write_bytes(pem)
    document = embedded_kubeconfig(server.url, authority.pem)
    document["clusters"][0]["cluster"] = {"server": server.url, "certificate-authority": "ca.crt"}
    document["users"][0]["user"] = {"client-certificate": "client.crt", "client-key": "client.key"}
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", document)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative to the kubeconfig's directory, not the working one
    assert KubeApi(load_client(str(kubeconfig)), timeout=5).reachable()
    assert server.seen == [("from-files", "")]


def test_embedded_data_wins_over_a_file_and_the_kubeconfig_is_not_rewritten(
    authority: Authority, server: MutualTlsServer, tmp_path: Path
) -> None:
    document = embedded_kubeconfig(server.url, authority.pem, client=authority.issue("data", server=False))
    document["clusters"][0]["cluster"]["certificate-authority"] = str(tmp_path / "absent.crt")
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", document)
    before = kubeconfig.read_text()
    assert KubeApi(load_client(str(kubeconfig)), timeout=5).reachable()
    assert kubeconfig.read_text() == before


@pytest.mark.usefixtures("no_temporary_directory")
def test_without_an_in_memory_file_a_missing_temporary_directory_says_what_to_mount(
    authority: Authority, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "memfd_create")  # as on a system without memfds: the client library's temporary file
    document = embedded_kubeconfig("https://127.0.0.1:9", authority.pem, client=authority.issue("x", server=False))
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", document)
    with pytest.raises(config.ConfigException) as raised:
        load_client(str(kubeconfig))
    assert "mount one at /tmp (an emptyDir) or point TMPDIR at a writable directory" in str(raised.value)


def test_embedded_data_that_is_not_base64_names_its_field(tmp_path: Path) -> None:
    document = embedded_kubeconfig("https://127.0.0.1:9", b"")
    document["clusters"][0]["cluster"]["certificate-authority-data"] = "not base64!"
    with pytest.raises(config.ConfigException, match="certificate-authority-data is not base64-encoded PEM"):
        load_client(str(write_kubeconfig(tmp_path / "kubeconfig", document)))


def test_an_untrusted_server_is_refused(server: MutualTlsServer, tmp_path: Path) -> None:
    other = Authority("another CA")
    document = embedded_kubeconfig(server.url, other.pem, client=other.issue("x", server=False))
    api = KubeApi(load_client(str(write_kubeconfig(tmp_path / "kubeconfig", document))), timeout=5)
    assert not api.reachable()
    assert server.seen == []  # the CA in memory is the only one trusted


def test_a_refused_connection_fails_at_once_without_urllib3_retrying(
    authority: Authority, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    document = embedded_kubeconfig(f"https://127.0.0.1:{port}", authority.pem, token=TOKEN)
    api = KubeApi(load_client(str(write_kubeconfig(tmp_path / "kubeconfig", document))), timeout=5)
    with caplog.at_level(logging.DEBUG, logger="urllib3"), pytest.raises(ApiUnreachable, match="Connection refused"):
        api.request("GET", "/readyz")
    # the operator waits for /readyz its own way: urllib3 neither tries again nor logs ("Retrying (Retry(...")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not any(r.getMessage().startswith("Retrying") for r in caplog.records)
