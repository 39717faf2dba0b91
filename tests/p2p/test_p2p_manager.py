"""PeerManager's own duties: limits, network switch, disconnects, timeouts, address gossip, bans on
disk, graceful stop, and the work-artifact exchange."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from p2p_helpers import LocalNode, RawPeer, run, start_nodes, stop_nodes, wait_until

from hashgrad.errors import ProtocolError
from hashgrad.p2p.messages import ArtifactMessage, GetArtifactMessage, PingMessage
from hashgrad.p2p.peer import PeerConfig


def test_connection_limits(tmp_path):
    async def scenario():
        hub = await LocalNode(tmp_path, "hub", max_peers=2).start()  # 1 inbound slot, 1 kept for outbound
        b, c = await start_nodes(tmp_path, 2)
        try:
            await b.connect_to(hub)
            with pytest.raises(ProtocolError) as err:
                await c.connect_to(hub)
            assert err.value.reason == "connect-failed"
            assert hub.manager.connection_count() == 1
            await hub.connect_to(c)  # the outbound slot is still free
            assert hub.manager.connection_count() == 2
            with pytest.raises(ProtocolError) as err:
                await hub.connect_to(b)
            assert err.value.reason == "too-many-connections"
        finally:
            await stop_nodes([hub, b, c])

    run(scenario())


def test_network_switch_and_disconnects(tmp_path):
    async def scenario():
        a, b = await start_nodes(tmp_path, 2)
        try:
            peer_id = await b.connect_to(a)
            assert await b.manager.disconnect(peer_id)
            assert not await b.manager.disconnect(peer_id)
            await wait_until(lambda: a.manager.connection_count() == 0)
            await b.connect_to(a)
            await wait_until(lambda: a.manager.connection_count() == 1)
            a.manager.set_network_active(False)
            await wait_until(lambda: a.manager.connection_count() == 0 and b.manager.connection_count() == 0)
            for connect, reason in ((b.connect_to(a), "connect-failed"), (a.connect_to(b), "network-inactive")):
                with pytest.raises(ProtocolError) as err:
                    await connect
                assert err.value.reason == reason
            a.manager.set_network_active(True)
            await b.connect_to(a)
            assert await b.manager.disconnect(f"127.0.0.1:{a.port}")
        finally:
            await stop_nodes([a, b])

    run(scenario())


def test_handshake_and_ping_timeouts(tmp_path):
    async def scenario():
        config = PeerConfig(handshake_timeout_s=1.0, ping_interval_s=0.2, ping_timeout_s=0.3)
        a = await LocalNode(tmp_path, "a", config=config).start()
        silent = quiet = None
        try:
            silent = await RawPeer.connect(a.port)  # says nothing at all
            assert await silent.wait_closed()
            quiet = await RawPeer.connect(a.port)
            await quiet.handshake()  # then never answers a ping
            await quiet.receive_until(PingMessage)
            assert await quiet.wait_closed()
            assert not a.manager.is_banned("127.0.0.2")  # slow is not malicious
        finally:
            for raw in (silent, quiet):
                if raw is not None:
                    raw.close()
            await stop_nodes([a])

    run(scenario())


def test_address_gossip_leads_to_new_connections(tmp_path):
    async def scenario():
        a, b = await start_nodes(tmp_path, 2)
        c = await LocalNode(tmp_path, "c", auto_connect=True).start()
        try:
            await b.connect_to(a)  # a learns b's listening address from b's version
            await wait_until(lambda: ("127.0.0.1", b.port) in a.manager.addrbook)
            await c.connect_to(a)  # c asks a for addresses, learns b's, and connects to it by itself
            await wait_until(lambda: ("127.0.0.1", b.port) in c.manager.addrbook)
            await wait_until(lambda: any(p["addr"] == f"127.0.0.1:{b.port}" for p in c.manager.get_peer_info()))
            assert b.manager.connection_count() == 2
        finally:
            await stop_nodes([a, b, c])
        saved = (tmp_path / "c" / "peers.json").read_text()
        assert str(b.port) in saved

    run(scenario())


def test_bans_survive_a_restart_and_stop_closes_everything(tmp_path):
    async def scenario():
        a = await LocalNode(tmp_path, "a").start()
        raw = await RawPeer.connect(a.port, "127.0.0.5")
        raw.send_bytes(b"\xff" * 24)
        assert await raw.wait_closed()
        raw.close()
        honest = await RawPeer.connect(a.port, "127.0.0.6")
        await honest.handshake()
        await a.stop()
        assert await honest.wait_closed()  # stop() closed the live connection
        honest.close()
        again = await LocalNode(tmp_path, "a").start()
        try:
            assert again.manager.is_banned("127.0.0.5") and not again.manager.is_banned("127.0.0.6")
            again.manager.unban("127.0.0.5")
            assert again.manager.list_banned() == []
        finally:
            await again.stop()

    run(scenario())


def test_artifact_exchange(tmp_path):
    async def scenario():
        store = {}
        data = b"pseudo-gradient bytes " * 100
        artifact_id = hashlib.sha256(data).digest()
        store[artifact_id] = data
        server = await LocalNode(tmp_path, "server", artifact_provider=store.get).start()
        client = await LocalNode(tmp_path, "client").start()
        liar = None
        try:
            await client.connect_to(server)
            assert await client.manager.fetch_artifact(artifact_id, 1 << 20) == data
            # callers asking at once (miners of one node fetching a new checkpoint) share one request
            together = [client.manager.fetch_artifact(artifact_id, 1 << 20) for _ in range(4)]
            assert await asyncio.gather(*together) == [data] * 4
            with pytest.raises(ProtocolError) as err:
                await client.manager.fetch_artifact(hashlib.sha256(b"nobody has this").digest(), 1 << 20)
            assert err.value.reason == "artifact-not-found"
            with pytest.raises(ProtocolError):
                await client.manager.fetch_artifact(artifact_id, 100)  # larger than we accept: not served

            await client.manager.disconnect(f"127.0.0.1:{server.port}")
            liar = await RawPeer.connect(client.port, "127.0.0.7")
            await liar.handshake()
            await wait_until(lambda: client.manager.get_ready_peers())

            async def answer_with_other_bytes():
                message = await liar.receive_until(GetArtifactMessage)
                liar.send(ArtifactMessage(message.artifact_id, b"not the artifact"))

            answering = asyncio.create_task(answer_with_other_bytes())
            with pytest.raises(ProtocolError) as err:
                await client.manager.fetch_artifact(artifact_id, 1 << 20)
            assert err.value.reason == "artifact-not-found"
            await answering
            assert await liar.wait_closed()
            assert client.manager.list_banned()[0]["ban_reason"] == "bad-artifact-hash"
        finally:
            if liar is not None:
                liar.close()
            await stop_nodes([server, client])

    run(scenario())
