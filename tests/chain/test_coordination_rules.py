"""One test per reason code of the coordination rules (`chain.coordination_rules`), each through the
real mempool admission (which applies the transaction to the tip state at the next height, exactly as
a block would), plus the same rule enforced on a block by the chainstate.

Windows of regtest's job 0 (tempo 30): commit work at offsets [0, 14), reveal work [14, 18), commit
weights [18, 26), reveal weights [26, 30). The `team` is registered in epoch 0; tests work in epoch 1.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashgrad.chain.coordination import compute_register_message, compute_work_commitment
from hashgrad.chain.coordination_make import (
    make_attest_checkpoint,
    make_commit_weights,
    make_commit_work,
    make_reveal_weights,
    make_reveal_work,
    make_stake,
)
from hashgrad.chain.coordination_rules import get_job_state
from hashgrad.chain.coordination_tx import (
    CoordKind,
    RegisterPayload,
    WeightsCommitPayload,
    WeightsRevealPayload,
    WorkCommitPayload,
)
from hashgrad.chain.tx import sign_transaction
from hashgrad.errors import ConsensusError
from hashgrad.mining.grind import grind_block
from support.coordination import (
    BASE,
    COIN,
    FEE,
    FUNDER,
    Member,
    Net,
    compute_artifact,
    compute_salt,
    compute_weights,
    make_key,
    with_job,
)

EPOCH = 1
JOB = 0


def commit_and_reveal_work(net: Net, member: Member, epoch: int = EPOCH) -> bytes:
    """The member commits at offset 0 and reveals at the reveal window's first block; returns the artifact."""
    artifact = compute_artifact(member.hot.pubkey, epoch)
    net.advance_to_offset(epoch, 0)
    net.send(member.hot, make_commit_work, JOB, epoch, artifact, BASE)
    net.advance_to_offset(epoch, net.job().work_commit_end)
    net.send(member.hot, make_reveal_work, JOB, epoch, artifact, BASE)
    net.mine()
    return artifact


def commit_weights(net: Net, validator: Member, weights, epoch: int = EPOCH) -> None:
    net.advance_to_offset(epoch, net.job().work_reveal_end)
    net.send(validator.hot, make_commit_weights, JOB, epoch, weights, compute_salt(validator.hot.pubkey, epoch))
    net.mine()


def mine_block_with(net: Net, txs) -> str:
    """Grind a block holding exactly `txs` (bypassing the mempool) and return why the chain refuses it."""
    template = net.ledger.build_template()
    fees = sum(tx.fee for tx in txs) - sum(tx.fee for tx in template.txs)
    template = replace(template, txs=tuple(txs), coinbase_value=template.coinbase_value + fees)
    block = grind_block(template.build_block(net.params, FUNDER.pubkey), net.params.pow.pow_limit)
    tip = net.chainstate.tip.hash
    with pytest.raises(ConsensusError) as info:
        net.chainstate.accept_block(block, None)
    assert net.chainstate.tip.hash == tip
    return info.value.reason


# ----------------------------------------------------------------------------- registration
@pytest.mark.parametrize("forgery", ["other-key", "other-job", "other-coldkey"])
def test_invalid_bad_register_sig(net, forgery):
    member = Member.named("newcomer")
    net.fund({member.cold.pubkey: COIN})
    signer, job_id, cold = member.hot, JOB, member.cold.pubkey
    if forgery == "other-key":
        signer = make_key("stranger")
    elif forgery == "other-job":
        job_id = 1
    else:
        cold = make_key("other cold").pubkey
    consent = signer.sign(compute_register_message(net.params.magic, job_id, cold, member.hot.pubkey))
    payload = RegisterPayload(JOB, member.hot.pubkey, COIN, consent)
    tx = sign_transaction(
        member.cold, net.params.magic, CoordKind.REGISTER, net.nonce(member.cold), FEE, payload.serialize()
    )
    assert net.reject_tx(tx) == "bad-register-sig"


def test_apply_register_assigns_uids_and_burns(net):
    members = [Member.named(f"m{i}") for i in range(3)]
    burn = get_job_state(net.chainstate, net.job()).burn
    net.join(members)
    assert sorted(net.uid(m) for m in members) == [0, 1, 2]
    assert net.balance(members[0].cold.pubkey) == 2 * COIN - burn - FEE
    assert net.audits[-1][1].burned == 3 * burn and net.audits[-1][1].is_balanced


def test_invalid_hotkey_already_registered(team):
    net, miners, _ = team
    assert net.reject_tx(net.make_register(miners[0])) == "hotkey-already-registered"


def test_invalid_hotkey_owned_by_other_coldkey(team):
    net, miners, _ = team
    thief = Member("thief", make_key("thief/cold"), miners[0].hot)
    net.fund({thief.cold.pubkey: 2 * COIN})
    assert net.reject_tx(net.make_register(thief, job_id=1)) == "hotkey-owned-by-other-coldkey"
    assert net.reject_reason(thief.cold, make_stake, thief.hot.pubkey, COIN) == "hotkey-owned-by-other-coldkey"


def test_invalid_burn_too_high(net):
    member = Member.named("newcomer")
    net.fund({member.cold.pubkey: COIN})
    burn = get_job_state(net.chainstate, net.job()).burn
    assert net.reject_tx(net.make_register(member, max_burn=burn - 1)) == "burn-too-high"
    net.register(member, max_burn=burn)  # exactly the price is enough


def test_invalid_bad_txns_balance_on_burn(net):
    member = Member.named("newcomer")
    burn = get_job_state(net.chainstate, net.job()).burn
    net.fund({member.cold.pubkey: burn + FEE - 1})  # the fee is covered, the burn is one unit short
    assert net.reject_tx(net.make_register(member)) == "bad-txns-balance"


def test_invalid_bad_txns_balance_on_stake(team):
    net, _, validator = team
    balance = net.balance(validator.cold.pubkey)
    assert net.reject_reason(validator.cold, make_stake, validator.hot.pubkey, balance - FEE + 1) == "bad-txns-balance"
    net.send(validator.cold, make_stake, validator.hot.pubkey, balance - FEE)  # all of it is fine


def test_invalid_no_slot_available(tmp_path):
    net = Net.create(tmp_path / "chain", with_job(max_uids=2, immunity_period=1_000))
    net.join([Member.named("a"), Member.named("b")])
    late = Member.named("late")
    net.fund({late.cold.pubkey: 2 * COIN})
    assert net.reject_tx(net.make_register(late)) == "no-slot-available"
    net.close()


def test_invalid_bad_job(team):
    net, miners, _ = team
    newcomer = Member.named("newcomer")
    net.fund({newcomer.cold.pubkey: COIN})
    assert net.reject_tx(net.make_register(newcomer, job_id=7)) == "bad-job"
    assert net.reject_reason(miners[0].hot, make_commit_work, 7, 0, b"\x01" * 32, BASE) == "bad-job"


# ----------------------------------------------------------------------------- stake
def test_apply_add_stake_and_remove_stake(team):
    net, _, validator = team
    before = net.balance(validator.cold.pubkey)
    net.send(validator.cold, make_stake, validator.hot.pubkey, 3 * COIN, add=False)
    net.mine()
    assert net.stake(validator) == 7 * COIN and net.balance(validator.cold.pubkey) == before + 3 * COIN - FEE


def test_invalid_bad_stake_amount(team):
    net, _, validator = team
    assert net.reject_reason(validator.cold, make_stake, validator.hot.pubkey, 0) == "bad-stake-amount"


def test_invalid_not_stake_owner(team):
    net, miners, validator = team
    stranger = make_key("stranger")
    net.fund({stranger.pubkey: COIN})
    assert net.reject_reason(stranger, make_stake, validator.hot.pubkey, 1, add=False) == "not-stake-owner"
    assert net.reject_reason(stranger, make_stake, make_key("nobody").pubkey, 1, add=False) == "not-stake-owner"


def test_invalid_insufficient_stake(team):
    net, _, validator = team
    staked = net.stake(validator)
    assert (
        net.reject_reason(validator.cold, make_stake, validator.hot.pubkey, staked + 1, add=False)
        == "insufficient-stake"
    )
    assert net.reject_reason(validator.cold, make_stake, validator.hot.pubkey, 0, add=False) == "insufficient-stake"


# ----------------------------------------------------------------------------- work commit-reveal
def test_invalid_hotkey_not_registered(team):
    net, _, _ = team
    stranger = make_key("stranger")
    net.fund({stranger.pubkey: COIN})
    net.advance_to_offset(EPOCH, 0)
    assert net.reject_reason(stranger, make_commit_work, JOB, EPOCH, b"\x01" * 32, BASE) == "hotkey-not-registered"


def test_invalid_bad_epoch(team):
    net, miners, validator = team
    net.advance_to_offset(EPOCH, 0)
    artifact = compute_artifact(miners[0].hot.pubkey, EPOCH + 1)
    assert net.reject_reason(miners[0].hot, make_commit_work, JOB, EPOCH + 1, artifact, BASE) == "bad-epoch"
    assert net.reject_reason(validator.hot, make_attest_checkpoint, JOB, EPOCH + 2, BASE) == "bad-epoch"


def test_invalid_work_commit_window_closed(team):
    net, miners, _ = team
    artifact = compute_artifact(miners[0].hot.pubkey, EPOCH)
    net.advance_to_offset(EPOCH, net.job().work_commit_end - 1)
    net.send(miners[1].hot, make_commit_work, JOB, EPOCH, compute_artifact(miners[1].hot.pubkey, EPOCH), BASE)
    net.mine()  # the last block of the window takes a commit; the next one does not
    assert net.reject_reason(miners[0].hot, make_commit_work, JOB, EPOCH, artifact, BASE) == "work-commit-window-closed"
    net.advance_to_offset(EPOCH + 1, 0)  # a commit for an epoch that is over: late, not a bad epoch
    assert net.reject_reason(miners[0].hot, make_commit_work, JOB, EPOCH, artifact, BASE) == "work-commit-window-closed"


def test_invalid_work_reveal_window_closed(team):
    net, miners, _ = team
    artifact = compute_artifact(miners[0].hot.pubkey, EPOCH)
    net.advance_to_offset(EPOCH, 0)
    net.send(miners[0].hot, make_commit_work, JOB, EPOCH, artifact, BASE)
    net.mine()
    assert (
        net.reject_reason(miners[0].hot, make_reveal_work, JOB, EPOCH, artifact, BASE) == "work-reveal-window-closed"
    )  # too early: others could copy before the commit deadline
    net.advance_to_offset(EPOCH, net.job().work_reveal_end)
    assert (
        net.reject_reason(miners[0].hot, make_reveal_work, JOB, EPOCH, artifact, BASE) == "work-reveal-window-closed"
    )  # too late: validators already score


def test_invalid_no_work_commit(team):
    net, miners, _ = team
    net.advance_to_offset(EPOCH, net.job().work_commit_end)
    artifact = compute_artifact(miners[0].hot.pubkey, EPOCH)
    assert net.reject_reason(miners[0].hot, make_reveal_work, JOB, EPOCH, artifact, BASE) == "no-work-commit"


def test_invalid_duplicate_work_commit(team):
    net, miners, _ = team
    net.advance_to_offset(EPOCH, 0)
    net.send(miners[0].hot, make_commit_work, JOB, EPOCH, compute_artifact(miners[0].hot.pubkey, EPOCH), BASE)
    net.mine()
    other = compute_artifact(miners[0].hot.pubkey, EPOCH, b"second try")
    assert net.reject_reason(miners[0].hot, make_commit_work, JOB, EPOCH, other, BASE) == "duplicate-work-commit"


def test_invalid_duplicate_work_reveal(team):
    net, miners, _ = team
    artifact = commit_and_reveal_work(net, miners[0])
    assert net.reject_reason(miners[0].hot, make_reveal_work, JOB, EPOCH, artifact, BASE) == "duplicate-work-reveal"


@pytest.mark.parametrize("case", ["wrong-artifact", "stolen", "replayed", "wrong-base"])
def test_invalid_work_reveal_mismatch(team, case):
    """The commitment binds artifact, author, epoch, job and base checkpoint: changing any one fails."""
    net, miners, _ = team
    honest, cheat = miners[0], miners[1]
    artifact = compute_artifact(honest.hot.pubkey, EPOCH)
    commitment = compute_work_commitment(artifact, honest.hot.pubkey, EPOCH, JOB, BASE)
    epoch = EPOCH + 1 if case == "replayed" else EPOCH
    if case == "replayed":  # last epoch's commitment posted again, to reveal last epoch's artifact again
        commit_and_reveal_work(net, honest)
    net.advance_to_offset(epoch, 0)
    if case in ("stolen", "replayed"):
        copier = cheat if case == "stolen" else honest
        net.send(copier.hot, make_signed_commit, epoch, commitment)
        sender = copier
    else:
        net.send(honest.hot, make_commit_work, JOB, epoch, artifact, BASE)
        sender = honest
    net.advance_to_offset(epoch, net.job().work_commit_end)
    revealed_artifact, base = artifact, BASE
    if case == "wrong-artifact":
        revealed_artifact = compute_artifact(honest.hot.pubkey, EPOCH, b"another")
    elif case == "wrong-base":
        base = compute_artifact(b"", 0, b"another base")
    assert (
        net.reject_reason(sender.hot, make_reveal_work, JOB, epoch, revealed_artifact, base) == "work-reveal-mismatch"
    )


def make_signed_commit(key, magic, nonce, epoch, commitment):
    """A work commit carrying a given commitment (a copied or replayed one), signed by `key`."""
    payload = WorkCommitPayload(JOB, epoch, commitment)
    return sign_transaction(key, magic, CoordKind.COMMIT_WORK, nonce, FEE, payload.serialize())


# ----------------------------------------------------------------------------- weights commit-reveal
def test_invalid_no_validator_stake(team):
    net, miners, _ = team
    net.advance_to_offset(EPOCH, net.job().work_reveal_end)
    weights = compute_weights(net, {miners[1]: 1})
    assert net.reject_reason(miners[0].hot, make_commit_weights, JOB, EPOCH, weights, b"s" * 32) == "no-validator-stake"
    assert net.reject_reason(miners[0].hot, make_attest_checkpoint, JOB, EPOCH, BASE) == "no-validator-stake"


@pytest.mark.parametrize("offset", ["before", "after"])
def test_invalid_weights_commit_window_closed(team, offset):
    net, miners, validator = team
    job = net.job()
    net.advance_to_offset(EPOCH, job.work_reveal_end - 1 if offset == "before" else job.weights_commit_end)
    weights = compute_weights(net, {miners[0]: 1})
    assert (
        net.reject_reason(validator.hot, make_commit_weights, JOB, EPOCH, weights, b"s" * 32)
        == "weights-commit-window-closed"
    )


def test_invalid_duplicate_weights_commit(team):
    net, miners, validator = team
    commit_weights(net, validator, compute_weights(net, {miners[0]: 1}))
    assert (
        net.reject_reason(
            validator.hot, make_commit_weights, JOB, EPOCH, compute_weights(net, {miners[1]: 1}), b"s" * 32
        )
        == "duplicate-weights-commit"
    )


@pytest.mark.parametrize("when", ["late", "early"])
def test_invalid_weights_reveal_window_closed(team, when):
    net, miners, validator = team
    weights = compute_weights(net, {miners[0]: 100, miners[1]: 50})
    salt = compute_salt(validator.hot.pubkey, EPOCH)
    commit_weights(net, validator, weights)
    if when == "late":
        net.finish_epoch(EPOCH)  # the epoch's last block is gone: the reveal missed its window
    else:
        net.advance_to_offset(EPOCH, net.job().weights_commit_end - 1)
    assert (
        net.reject_reason(validator.hot, make_reveal_weights, JOB, EPOCH, weights, salt)
        == "weights-reveal-window-closed"
    )


def test_invalid_no_weights_commit(team):
    net, miners, validator = team
    net.advance_to_offset(EPOCH, net.job().weights_commit_end)
    weights = compute_weights(net, {miners[0]: 1})
    assert net.reject_reason(validator.hot, make_reveal_weights, JOB, EPOCH, weights, b"s" * 32) == "no-weights-commit"


def test_invalid_duplicate_weights_reveal(team):
    net, miners, validator = team
    weights = compute_weights(net, {miners[0]: 7})
    salt = compute_salt(validator.hot.pubkey, EPOCH)
    commit_weights(net, validator, weights)
    net.advance_to_offset(EPOCH, net.job().weights_commit_end)
    net.send(validator.hot, make_reveal_weights, JOB, EPOCH, weights, salt)
    net.mine()
    assert (
        net.reject_reason(validator.hot, make_reveal_weights, JOB, EPOCH, weights, salt) == "duplicate-weights-reveal"
    )


@pytest.mark.parametrize("shape", ["unsorted", "duplicate", "unregistered"])
def test_invalid_bad_weights(team, shape):
    net, miners, validator = team
    uids = sorted(net.uid(m) for m in miners)
    weights = {
        "unsorted": ((uids[1], 5), (uids[0], 5)),
        "duplicate": ((uids[0], 5), (uids[0], 6)),
        "unregistered": ((uids[0], 5), (get_job_state(net.chainstate, net.job()).n_uids, 5)),
    }[shape]
    salt = compute_salt(validator.hot.pubkey, EPOCH)
    commit_weights(net, validator, weights)  # a commitment hides the row, so the check waits for the reveal
    net.advance_to_offset(EPOCH, net.job().weights_commit_end)
    assert net.reject_reason(validator.hot, make_reveal_weights, JOB, EPOCH, weights, salt) == "bad-weights"


@pytest.mark.parametrize("change", ["wrong-salt", "other-weights"])
def test_invalid_weights_reveal_mismatch(team, change):
    net, miners, validator = team
    weights = compute_weights(net, {miners[0]: 100, miners[1]: 50})
    salt = compute_salt(validator.hot.pubkey, EPOCH)
    commit_weights(net, validator, weights)
    net.advance_to_offset(EPOCH, net.job().weights_commit_end)
    if change == "wrong-salt":
        salt = bytes(32)
    else:
        weights = compute_weights(net, {miners[0]: 50, miners[1]: 100})
    assert net.reject_reason(validator.hot, make_reveal_weights, JOB, EPOCH, weights, salt) == "weights-reveal-mismatch"


def test_invalid_duplicate_attestation(team):
    net, _, validator = team
    net.send(validator.hot, make_attest_checkpoint, JOB, 0, BASE)
    net.mine()
    assert net.reject_reason(validator.hot, make_attest_checkpoint, JOB, 0, BASE) == "duplicate-attestation"
    assert net.reject_reason(validator.hot, make_attest_checkpoint, JOB, 0, bytes(32)) == "duplicate-attestation"


# ----------------------------------------------------------------------------- malformed payloads
PAYLOADS = {
    CoordKind.REGISTER: RegisterPayload(JOB, b"\x02" * 32, COIN, b"\x00" * 64).serialize(),
    CoordKind.ADD_STAKE: b"\x02" * 32 + (1).to_bytes(8, "little"),
    CoordKind.REMOVE_STAKE: b"\x02" * 32 + (1).to_bytes(8, "little"),
    CoordKind.COMMIT_WORK: WorkCommitPayload(JOB, EPOCH, b"\x03" * 32).serialize(),
    CoordKind.REVEAL_WORK: WorkCommitPayload(JOB, EPOCH, b"\x03" * 32).serialize() + b"\x04" * 32,
    CoordKind.COMMIT_WEIGHTS: WeightsCommitPayload(JOB, EPOCH, b"\x03" * 32).serialize(),
    CoordKind.REVEAL_WEIGHTS: WeightsRevealPayload(JOB, EPOCH, b"\x05" * 32, ((0, 1), (1, 2))).serialize(),
    CoordKind.ATTEST_CHECKPOINT: WorkCommitPayload(JOB, EPOCH, b"\x03" * 32).serialize(),
}


@pytest.mark.parametrize("kind", list(PAYLOADS), ids=lambda k: k.name.lower())
@pytest.mark.parametrize("mutation", ["truncated", "trailing-byte", "empty"])
def test_invalid_bad_txns_payload(team, kind, mutation):
    net, _, validator = team
    good = PAYLOADS[kind]
    data = {"truncated": good[:-1], "trailing-byte": good + b"\x00", "empty": b""}[mutation]
    tx = sign_transaction(validator.hot, net.params.magic, kind, net.nonce(validator.hot), FEE, data)
    assert net.reject_tx(tx) == "bad-txns-payload"


def test_invalid_bad_txns_payload_weights_count_beyond_limit(team):
    net, _, validator = team
    data = WeightsRevealPayload(JOB, EPOCH, b"\x05" * 32, ()).serialize()[:-2] + (4097).to_bytes(2, "little")
    data += b"\x00" * 4 * 4097
    tx = sign_transaction(validator.hot, net.params.magic, CoordKind.REVEAL_WEIGHTS, 0, 100_000, data)
    assert net.reject_tx(tx) == "bad-txns-payload"


# ----------------------------------------------------------------------------- the same rules on blocks
def test_invalid_block_with_late_weights_reveal(team):
    """A block maker that includes a reveal after its window makes the whole block invalid."""
    net, miners, validator = team
    weights = compute_weights(net, {miners[0]: 9})
    salt = compute_salt(validator.hot.pubkey, EPOCH)
    commit_weights(net, validator, weights)
    net.finish_epoch(EPOCH)
    late = make_reveal_weights(validator.hot, net.params.magic, net.nonce(validator.hot), JOB, EPOCH, weights, salt)
    assert mine_block_with(net, [late]) == "weights-reveal-window-closed"


def test_invalid_block_with_stolen_work_reveal(team):
    net, miners, _ = team
    honest, cheat = miners[0], miners[1]
    artifact = compute_artifact(honest.hot.pubkey, EPOCH)
    net.advance_to_offset(EPOCH, 0)
    net.send(honest.hot, make_commit_work, JOB, EPOCH, artifact, BASE)
    net.send(
        cheat.hot, make_signed_commit, EPOCH, compute_work_commitment(artifact, honest.hot.pubkey, EPOCH, JOB, BASE)
    )
    net.advance_to_offset(EPOCH, net.job().work_commit_end)
    stolen = make_reveal_work(cheat.hot, net.params.magic, net.nonce(cheat.hot), JOB, EPOCH, artifact, BASE)
    assert mine_block_with(net, [stolen]) == "work-reveal-mismatch"
