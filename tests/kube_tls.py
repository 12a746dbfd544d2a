"""Kubeconfigs that embed their certificates (`certificate-authority-data`, `client-certificate-data`,
`client-key-data`), and a small, real HTTPS server that accepts only a client certificate its CA issued (mutual
TLS, as an API server with --client-ca-file does) and records whom it saw. Made at test time with `cryptography`;
nothing is checked in."""

from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import json
import ssl
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode()


class Authority:
    """A CA, with the PEM of certificates it issues and their keys."""

    def __init__(self, name: str = "kubeconfig test CA") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, *, server: bool) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM): for 127.0.0.1 (`server`) or a client identity."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=2))
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        )
        if server:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem


def embedded_kubeconfig(
    server: str, ca_pem: bytes, *, token: str | None = None, client: tuple[bytes, bytes] | None = None
) -> dict[str, Any]:
    """A kubeconfig that carries its CA (and client certificate and key) as data, like kind's or a cloud's."""
    user: dict[str, Any] = {}
    if token:
        user["token"] = token
    if client:
        user["client-certificate-data"], user["client-key-data"] = _b64(client[0]), _b64(client[1])
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }


def write_kubeconfig(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o600)
    return path


class MutualTlsServer:
    """HTTPS on 127.0.0.1 that completes a handshake only with a client certificate `authority` issued; answers
    every GET with 200 `ok` and records (client certificate's common name, Authorization header) of each."""

    def __init__(self, authority: Authority, directory: Path) -> None:
        cert, key = authority.issue("127.0.0.1", server=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        chain = directory / "server.pem"  # ssl reads a chain from a path only
        chain.write_bytes(cert + key)
        context.load_cert_chain(str(chain))
        context.load_verify_locations(cadata=authority.pem.decode())
        context.verify_mode = ssl.CERT_REQUIRED
        self.seen: list[tuple[str, str]] = []
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                peer: Any = self.connection.getpeercert()  # type: ignore[attr-defined]
                name = next(v for rdn in peer["subject"] for k, v in rdn if k == "commonName")
                seen.append((name, self.headers.get("Authorization", "")))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> MutualTlsServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
