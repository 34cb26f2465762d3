"""Authentication (issue 15, bug 5): mutual TLS between nodes and from clients.

The campaign's attacks, each over real TCP against a 3-node TLS cluster: forged
AppendEntries that wiped every log, forged vote requests that drove the term up, a
term of 2^64-1, sent in plain TCP, over TLS without a certificate, with the clients'
certificate posing as a peer, and with one node's certificate posing as another.
None may reach a node's protocol: terms, logs and acknowledged writes stay as they were.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from leaderfollower.impl.client import Client, ClientError
from leaderfollower.impl.messages import Entry, append_entries_request, request_vote_request
from leaderfollower.impl.node import Envelope
from leaderfollower.impl.server import NodeServer, ServerConfig, leader_of, local_addresses
from leaderfollower.impl.tls import CLIENT_NAME, Identity, client_context_for, ensure_cluster_certs, node_name
from leaderfollower.impl.wire import encode_envelope, encode_hello_peer

from support.cluster import free_base_port, run, running

N = 3
U64 = 2**64 - 1


async def tls_cluster(folder: Path) -> list[NodeServer]:
    ensure_cluster_certs(folder, N)
    addresses = local_addresses(N, free_base_port())
    servers = [NodeServer(ServerConfig(i, addresses, folder / f"node{i}", tls=Identity.of(folder, node_name(i))))
               for i in range(N)]
    for s in servers:
        s.bad_input.interval = 0  # every refusal logged, to see each reason
        await s.start()
    return servers


def forged_frames(term: int, dest: int) -> bytes:
    """What the campaign sent: a peer hello as node 0, then AppendEntries that rewrite index 1, and a huge term."""
    wipe = append_entries_request(term, 0, 0, (Entry(term, b""),), 0, 0, dest)
    vote = request_vote_request(U64, U64, U64, 0, dest)
    return encode_hello_peer(0, N) + encode_envelope(Envelope(wipe, 0)) * 2 + encode_envelope(Envelope(vote, 0))


async def send(host: str, port: int, data: bytes, context: Optional[ssl.SSLContext]) -> bytes:
    """Connect (TLS with `context`, or plain TCP), send, and read until the node closes; what came back."""
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
    except (ssl.SSLError, ConnectionError) as e:
        return f"refused: {e}".encode()
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.read(), 10)
    except (ssl.SSLError, ConnectionError) as e:
        return f"refused: {e}".encode()
    finally:
        writer.close()


def unverified_context(identity: Optional[Identity] = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if identity is not None:
        context.load_cert_chain(identity.cert, identity.key)
    return context


def test_forged_frames_never_reach_a_node(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        servers = await tls_cluster(tmp_path)
        addresses = servers[0].config.addresses
        async with running(servers) as leader:
            async with Client(addresses, tls=client_context_for(tmp_path)) as c:
                for k in range(5):
                    assert (await c.put(f"k{k}", "v"))["ok"]
                # Without the clients' certificate a client gets nowhere.
                with pytest.raises(ClientError):
                    async with Client(addresses, timeout=1, tls=unverified_context()) as bare:
                        await bare.put("x", "y")
            terms = [s.node.term for s in servers]  # type: ignore[union-attr]
            logs = [list(s.node.core.log) for s in servers]  # type: ignore[union-attr]
            posers = {
                "plain TCP": None,
                "TLS without a certificate": unverified_context(),
                "the clients' certificate": unverified_context(Identity.of(tmp_path, CLIENT_NAME)),
                "node 1's certificate as node 0": unverified_context(Identity.of(tmp_path, node_name(1))),
            }
            for who, context in posers.items():
                for s in servers:
                    if s.id == 0:
                        continue
                    host, port = s.config.addresses[s.id]
                    got = await send(host, port, forged_frames(terms[0] + 5, s.id), context)
                    assert got == b"" or got.startswith(b"refused"), (who, got)
            await asyncio.sleep(0.5)  # anything that did get in would have acted by now
            assert [s.node.term for s in servers] == terms  # type: ignore[union-attr]
            assert [list(s.node.core.log)[: len(log)] for s, log in zip(servers, logs)] == logs  # type: ignore[union-attr]
            assert leader_of(servers) is leader
            async with Client(addresses, tls=client_context_for(tmp_path)) as c:
                assert [(await c.get(f"k{k}"))["value"] for k in range(5)] == ["v"] * 5

    with caplog.at_level(logging.INFO):
        run(scenario())
    assert "peer hello as node 0 with the certificate of 'client'" in caplog.text
    assert "peer hello as node 0 with the certificate of 'node1'" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_client_refuses_a_node_with_another_nodes_certificate(tmp_path: Path) -> None:
    async def scenario() -> None:
        servers = await tls_cluster(tmp_path)
        async with running(servers):
            swapped = (servers[1].config.addresses[1],)  # "node 0" is really node 1
            with pytest.raises(ClientError, match="presented the certificate of 'node1', not 'node0'"):
                async with Client(swapped, timeout=1, tls=client_context_for(tmp_path)) as c:
                    await c.put("k", "v")

    run(scenario())


def test_nodes_starting_together_make_one_ca(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from leaderfollower.impl.tls import ensure_cluster_certs;"
            "ensure_cluster_certs(Path(sys.argv[1]), 3)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    from cryptography import x509

    ca = x509.load_pem_x509_certificate((tmp_path / "tls" / "ca.pem").read_bytes())
    for name in ["node0", "node1", "node2", "client"]:
        cert = x509.load_pem_x509_certificate((tmp_path / "tls" / f"{name}.pem").read_bytes())
        cert.verify_directly_issued_by(ca)
    assert oct((tmp_path / "tls" / "ca.key").stat().st_mode & 0o777) == "0o600"


def test_the_cli_cluster_makes_certificates_and_the_client_uses_them(tmp_path: Path) -> None:
    base = free_base_port()
    data = tmp_path / "data"
    cluster = subprocess.Popen([sys.executable, "-m", "leaderfollower.impl.cli", "cluster", "--data-dir", str(data),
                                "--base-port", str(base), "--log-level", "warning"])
    try:
        for _ in range(600):  # the cluster makes its certificates before it starts the nodes
            if (data / "tls" / "client.pem").exists() or cluster.poll() is not None:
                break
            time.sleep(0.1)

        def client(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "leaderfollower.impl.cli", "client", "--data-dir", str(data),
                                   "--timeout", "30", *args], capture_output=True, text=True, timeout=60)

        put = client("put", "k", "v")
        assert put.returncode == 0, put.stderr
        got = client("get", "k")
        assert got.returncode == 0 and '"value": "v"' in got.stdout
        plain = client("--insecure", "--timeout", "1", "get", "k")
        assert plain.returncode == 1 and "no answer within" in plain.stderr
        assert (data / "tls" / "ca.pem").exists() and (data / "tls" / "node2.key").exists()
    finally:
        cluster.terminate()
        cluster.wait(30)
    # SIGTERM to the cluster stops its nodes too: none is left listening.
    for _ in range(100):
        listening = [port for port in range(base, base + 3) if _accepts(port)]
        if not listening:
            break
        time.sleep(0.1)
    assert not listening, f"nodes still listening on {listening} after the cluster was terminated"


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True

