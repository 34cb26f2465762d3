"""Mutual TLS between nodes and from clients: certificates for a local cluster, and the SSL contexts.

How this works: a cluster has its own certificate authority, made on first start in
the data folder (`<data-dir>/tls/`): `ca.pem` and its key, one certificate per node
(`node<i>.pem`, common name `node<i>`) and one for clients (`client.pem`, common
name `client`), all ECDSA P-256, signed by the cluster's CA and nothing else.
Every connection is TLS 1.3 with certificates required on both sides, checked
against that CA only (not the system's), so only holders of a key the cluster's CA
signed can talk to a node at all.  The roles are then checked by name: a
connection may speak as peer i (`HelloPeer` from node i) only if its certificate
is `node<i>`'s, and a node dialling peer j checks that the certificate it got is
`node<j>`'s; any certificate of the cluster may be a client.  Host names are not
checked: a node's identity is its certificate's name, not its address.

The certificates are made with the `cryptography` library (Python's `ssl` cannot
make them; `cryptography` is the well-kept library for it, and calling the openssl
command line would depend on its presence and version).  Several node processes
of one cluster may start at once on one data folder: the first takes a lock and
makes what is missing, the others wait for it and use the same CA.
"""
from __future__ import annotations

import datetime
import fcntl
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

TLS_DIR = "tls"
"""The folder, in a cluster's data folder, holding its CA and certificates."""
CLIENT_NAME = "client"
"""The common name of the clients' certificate."""
_VALID_DAYS = 3650


class TlsError(Exception):
    """Certificates that cannot be made or read (the message names the file)."""


def node_name(i: int) -> str:
    """The common name of node i's certificate."""
    return f"node{i}"


@dataclass(frozen=True)
class Identity:
    """One holder's files: the cluster's CA certificate, its own certificate and its private key."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def of(cls, data_dir: Path, name: str) -> "Identity":
        """`name`'s files in the cluster data folder `data_dir` (`node<i>` or `client`)."""
        folder = Path(data_dir) / TLS_DIR
        return cls(folder / "ca.pem", folder / f"{name}.pem", folder / f"{name}.key")

    def _load(self, context: ssl.SSLContext) -> ssl.SSLContext:
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.verify_mode = ssl.CERT_REQUIRED
        try:
            context.load_cert_chain(self.cert, self.key)
            context.load_verify_locations(cafile=self.ca)
        except (OSError, ssl.SSLError) as e:
            raise TlsError(f"cannot load TLS files {self.cert}, {self.key}, {self.ca}: {e}") from None
        return context

    def server_context(self) -> ssl.SSLContext:
        """For accepting connections: present this certificate, require one the cluster's CA signed."""
        return self._load(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))

    def client_context(self) -> ssl.SSLContext:
        """For dialling: present this certificate, require one the cluster's CA signed (names checked by the caller)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # identity is the certificate's name, checked after the handshake
        return self._load(context)


def peer_name(transport: Any) -> Optional[str]:
    """The common name of the certificate the other side presented (verified), or None without TLS."""
    cert = transport.get_extra_info("peercert")
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def client_context_for(data_dir: Path) -> Optional[ssl.SSLContext]:
    """The clients' TLS context of the cluster whose data folder is `data_dir`, or None if it has no certificates."""
    identity = Identity.of(data_dir, CLIENT_NAME)
    return identity.client_context() if identity.cert.exists() else None


def ensure_cluster_certs(data_dir: Path, nodes: int) -> Path:
    """Make the cluster's CA and certificates in `data_dir/tls` unless they exist; the folder.

    Safe to call from several processes at once (a lock file serialises them).
    Certificates missing for some nodes (a cluster grown later) are added with the
    existing CA.
    """
    folder = Path(data_dir) / TLS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / ".lock"
    try:
        lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise TlsError(f"{lock_path}: cannot create the certificate lock: {e.strerror}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _make_missing(folder, nodes)
    finally:
        os.close(lock)  # releases the lock
    return folder


def _make_missing(folder: Path, nodes: int) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca_cert_path, ca_key_path = folder / "ca.pem", folder / "ca.key"
    now = datetime.datetime.now(datetime.timezone.utc)

    def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def write_cert(path: Path, cert: x509.Certificate) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(tmp, path)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "leaderfollower cluster"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    if ca_cert_path.exists() and ca_key_path.exists():
        try:
            ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
            loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        except (OSError, ValueError) as e:
            raise TlsError(f"{folder}: cannot read the cluster's CA: {e}") from None
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise TlsError(f"{ca_key_path}: not an EC private key")
        ca_key = loaded
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = (
            x509.CertificateBuilder().subject_name(name("leaderfollower cluster CA")).issuer_name(name("leaderfollower cluster CA"))
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        write_key(ca_key_path, ca_key)
        write_cert(ca_cert_path, ca_cert)
    for cn in [node_name(i) for i in range(nodes)] + [CLIENT_NAME]:
        cert_path, key_path = folder / f"{cn}.pem", folder / f"{cn}.key"
        if cert_path.exists() and key_path.exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
                                                  x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        write_key(key_path, key)
        write_cert(cert_path, cert)
