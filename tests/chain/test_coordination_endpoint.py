"""ANNOUNCE_ENDPOINT: a registered uid says where it serves (Bittensor's serve_axon); validators and
gateways read it from the metagraph. The record follows the uid: a new hotkey in the slot starts
without one."""

from __future__ import annotations

from hashgrad.chain import coordination_rules
from hashgrad.chain.coordination import Endpoint
from hashgrad.chain.coordination_make import make_announce_endpoint
from support.coordination import COIN, Member, Net, with_job


def get_endpoint(net: Net, member: Member, job_id: int = 0) -> Endpoint | None:
    return coordination_rules.get_endpoint(net.chainstate, job_id, net.uid(member, job_id))


def test_apply_announce_endpoint_records_where_the_uid_serves(team):
    net, miners, _ = team
    net.send(miners[0].hot, make_announce_endpoint, 0, "127.0.0.1", 8123)
    net.mine()
    endpoint = get_endpoint(net, miners[0])
    assert endpoint.to_host_port() == "127.0.0.1:8123" and endpoint.height == net.height
    net.send(miners[0].hot, make_announce_endpoint, 0, "::1", 9000)  # a later announcement replaces it
    net.mine()
    assert get_endpoint(net, miners[0]).to_host_port() == "[::1]:9000"


def test_invalid_bad_endpoint(team):
    net, miners, _ = team
    assert net.reject_reason(miners[0].hot, make_announce_endpoint, 0, "127.0.0.1", 0) == "bad-endpoint"
    assert net.reject_reason(miners[0].hot, make_announce_endpoint, 0, "0.0.0.0", 80) == "bad-endpoint"
    assert net.reject_reason(miners[0].hot, make_announce_endpoint, 0, "ff02::1", 80) == "bad-endpoint"


def test_invalid_endpoint_from_unregistered_hotkey(net):
    stranger = Member.named("stranger")
    net.fund({stranger.hot.pubkey: COIN})
    assert net.reject_reason(stranger.hot, make_announce_endpoint, 0, "127.0.0.1", 80) == "hotkey-not-registered"


def test_replaced_slot_forgets_the_endpoint(tmp_path):
    net = Net.create(tmp_path / "chain", with_job(max_uids=1, immunity_period=1))
    old, newcomer = Member.named("old"), Member.named("newcomer")
    net.join([old])
    net.send(old.hot, make_announce_endpoint, 0, "127.0.0.1", 8123)
    net.mine(2)
    net.fund({newcomer.cold.pubkey: COIN, newcomer.hot.pubkey: COIN})
    net.register(newcomer)
    net.mine()
    assert net.uid(newcomer) == 0 and net.uid(old) is None
    assert get_endpoint(net, newcomer) is None
    net.close()
