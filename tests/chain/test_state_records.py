"""State records are typed: each kind of value in the state table has one record type with one
`serialize` and one strict `deserialize`. Every value a real chain stores (two paid epochs of
commits, reveals, weights, bonds, attestations, an endpoint, stake moves and registrations) decodes into its
record and re-encodes to the same bytes; a value of the wrong length is refused by its decoder."""

from __future__ import annotations

import random

import pytest

from hashgrad.chain.coordination import (
    Attestation,
    AttestedStake,
    CheckpointRecord,
    Endpoint,
    JobState,
    Neuron,
    NeuronStats,
    SparseRow,
    Stake,
    UidRecord,
    WeightsCommit,
    WorkCommit,
    WorkReveal,
)
from hashgrad.chain.coordination_make import make_announce_endpoint, make_attest_checkpoint
from hashgrad.chain.state import Account, PoolBalance, Supply
from hashgrad.errors import DecodeError
from support.coordination import COIN, Autopilot, Member
from support.ledger import dump_state

RECORD_BY_PREFIX = {
    b"A": Account,
    b"P": PoolBalance,
    b"S": Supply,
    b"U": UidRecord,
    b"N": Neuron,
    b"M": JobState,
    b"K": Stake,
    b"W": WorkCommit,
    b"R": WorkReveal,
    b"C": WeightsCommit,
    b"V": SparseRow,
    b"B": SparseRow,
    b"E": NeuronStats,
    b"T": Attestation,
    b"Y": AttestedStake,
    b"Z": CheckpointRecord,
    b"X": Endpoint,
}
FIXED_RECORDS = sorted({r for r in RECORD_BY_PREFIX.values() if r is not SparseRow}, key=lambda r: r.__name__)


def test_every_stored_value_round_trips_through_its_record(net):
    miners = [Member.named(f"miner{i}") for i in range(4)]
    validators = [Member.named(f"validator{i}") for i in range(3)]
    newcomers = [Member.named(f"newcomer{i}") for i in range(2)]
    net.join([*miners, *validators], stakes={v.name: (3 + i) * COIN for i, v in enumerate(validators)})
    net.fund({n.cold.pubkey: COIN for n in newcomers})
    for validator in validators:  # a stake majority attests the base of epoch 1: T, Y and Z records
        net.send(validator.hot, make_attest_checkpoint, 0, 1, bytes(range(32)))
    net.send(miners[0].hot, make_announce_endpoint, 0, "127.0.0.1", 8000)
    net.mine()
    Autopilot(net, miners, validators, newcomers, random.Random(5)).step(3 * 30 - net.height)
    seen = set()
    for key, value in dump_state(net.chainstate).items():
        record = RECORD_BY_PREFIX[key[:1]].deserialize(value)
        assert record.serialize() == value, (key, record)
        seen.add(key[:1])
    assert seen == set(RECORD_BY_PREFIX)


@pytest.mark.parametrize("record", FIXED_RECORDS, ids=lambda r: r.__name__)
def test_invalid_fixed_record_of_wrong_length(record):
    size = record._fmt.size
    for data in (b"", bytes(size - 1), bytes(size + 1)):
        with pytest.raises(DecodeError) as info:
            record.deserialize(data)
        assert info.value.reason == "bad-state-record"
    assert record.deserialize(bytes(size)).serialize() == bytes(size)


def test_sparse_row_round_trip_and_invalid_lengths():
    row = SparseRow(((0, 65535), (3, 1), (700, 42)))
    data = row.serialize()
    assert data == bytes.fromhex("03000000ffff03000100bc022a00")
    assert SparseRow.deserialize(data) == row and SparseRow.deserialize(SparseRow().serialize()) == SparseRow()
    for bad in (data[:-1], data + b"\x00"):
        with pytest.raises(DecodeError) as info:
            SparseRow.deserialize(bad)
        assert info.value.reason == "bad-state-record"
    with pytest.raises(DecodeError) as info:
        SparseRow.deserialize(b"\x01")
    assert info.value.reason == "bad-encoding"  # not even the count
