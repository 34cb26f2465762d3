"""The smaller edges of issue 15, bug 8: a read-only data folder refused at start; a restarted
node that has heard no leader says "not caught up" to a stale read instead of "absent"."""
from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leaderfollower.impl.core import CoreConfig
from leaderfollower.impl.messages import Entry, PersistentState
from leaderfollower.impl.kv import encode_write
from leaderfollower.impl.node import Node, NodeConfig
from leaderfollower.impl.storage import Storage

from support.cluster import free_base_port
from support.sansio import idle_cluster, settle


def test_a_restarted_node_without_a_leader_does_not_answer_absent() -> None:
    log = (Entry(2, b""), Entry(2, encode_write("put", "k", "v")))
    node = Node(1, CoreConfig(3, 8), random.Random(1), NodeConfig(), PersistentState(2, 0, log))
    node.read("r", "k", stale=True)
    (reply,) = node.ready().replies
    assert reply.body["ok"] is False and reply.body["error"] == "not_caught_up"


def test_stale_reads_are_answered_once_a_leader_was_heard() -> None:
    nodes = idle_cluster()
    nodes[0].write("w", "put", "k", "v")
    settle(nodes)
    nodes[0].tick()  # a heartbeat carries the new commit index to the followers
    for _ in range(NodeConfig().heartbeat_ticks):
        nodes[0].tick()
    settle(nodes)
    for node in nodes:
        node.read("r", "k", stale=True)
        (reply,) = node.ready().replies
        assert reply.body["ok"] and reply.body["value"] == "v", (node.id, reply.body)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_a_read_only_data_folder_is_refused_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "node0"
    s = Storage.open(folder)
    s.load()
    s.save(None, 1, (Entry(1, b""),))
    s.close()
    # The folder, read-only in a mount namespace of the node's own (root ignores file modes).
    node = (f"exec {sys.executable} -m leaderfollower.impl.cli node --id 0 --nodes 1"
            f" --base-port {free_base_port(1)} --data-dir {tmp_path}")
    script = f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} && {node}"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a mount namespace here: {probe.stderr.decode().strip()}")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "cannot start" in proc.stderr and "the data folder is not writable (Read-only file system)" in proc.stderr
    assert "Traceback" not in proc.stderr
