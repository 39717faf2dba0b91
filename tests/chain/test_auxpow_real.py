"""Real merge-mined blocks (Namecoin, Syscoin, Dogecoin) accepted by the library, and each rule of
CAuxPow::check / CheckProofOfWork shown to fire on a mutation of them, with its reason code."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hashgrad.chain.auxpow import (
    MERGED_MINING_HEADER,
    AuxPow,
    check_auxpow,
    check_auxpow_proof,
    check_block_proof,
    compute_expected_index,
    compute_parent_pow_hash,
    parse_auxpow,
)
from hashgrad.chain.hashes import display_to_hash, hash_to_display
from hashgrad.chain.header import VERSION_AUXPOW, BlockHeader
from hashgrad.chain.merkle import compute_root_from_branch
from hashgrad.chain.params import HASHGRAD_MAIN, PowParams
from hashgrad.errors import HeaderError
from support.auxpow import MAX_TARGET, header_samples, load_samples, sample_parts, script_of, with_script


def params_for(chain_id: int):
    return replace(HASHGRAD_MAIN, chain_id=chain_id, pow=PowParams(pow_limit=MAX_TARGET), auxpow_start_height=0)


def load(name: str) -> tuple[BlockHeader, AuxPow | None, dict]:
    header, raw = sample_parts(name)
    return BlockHeader.deserialize(header), (parse_auxpow(raw) if raw else None), load_samples()[name]


def check_sample(header: BlockHeader, auxpow: AuxPow | None, entry: dict) -> None:
    check_block_proof(header, auxpow, params_for(entry["chain_id"]), 0, entry["parent_pow_algo"])


def reason_of(call, *args, **kwargs) -> str:
    with pytest.raises(HeaderError) as info:
        call(*args, **kwargs)
    return info.value.reason


@pytest.mark.parametrize("name", header_samples())
def test_check_block_proof_real_samples(name):
    header, auxpow, entry = load(name)
    assert header.hash_hex == entry["block_hash"]
    check_sample(header, auxpow, entry)
    if auxpow is not None:
        pow_hash = compute_parent_pow_hash(auxpow.parent_header, entry["parent_pow_algo"])
        assert hash_to_display(pow_hash) == entry["derived_checks"]["parent_pow_hash"]


def test_real_samples_cover_every_chain_and_a_plain_block():
    names = header_samples()
    assert {load_samples()[n]["coin"] for n in names} == {"Namecoin", "Syscoin", "Dogecoin"}
    assert sum(sample_parts(n)[1] is None for n in names) == 1
    assert len(names) == 9


def test_check_auxpow_proof_dogecoin_auxpow_only():
    entry = load_samples()["dogecoin_403931_auxpow_only"]
    auxpow = parse_auxpow(bytes.fromhex(entry["hex"]))
    aux_hash, bits = display_to_hash(entry["block_hash"]), int(entry["bits"], 16)
    check_auxpow_proof(auxpow, aux_hash, 98, bits, MAX_TARGET, "scrypt")
    assert reason_of(check_auxpow_proof, auxpow, aux_hash, 98, bits, MAX_TARGET, "sha256d") == "high-hash"
    assert (
        reason_of(check_auxpow_proof, auxpow, aux_hash[::-1], 98, bits, MAX_TARGET, "scrypt") == "auxpow-missing-root"
    )
    assert reason_of(check_auxpow_proof, auxpow, aux_hash, 1, bits, MAX_TARGET, "scrypt") == "auxpow-wrong-index"


@pytest.mark.parametrize("name", ["namecoin_19200", "syscoin_430000_bitcoin_parent", "dogecoin_748634"])
def test_invalid_parent_nonce_flipped_high_hash(name):
    header, auxpow, entry = load(name)
    parent = auxpow.parent_header.with_nonce(auxpow.parent_header.nonce ^ 1)
    assert reason_of(check_sample, header, replace(auxpow, parent_header=parent), entry) == "high-hash"


def test_invalid_plain_block_nonce_flipped_high_hash():
    header, _, entry = load("namecoin_19204_no_auxpow")
    assert reason_of(check_sample, header.with_nonce(header.nonce ^ 1), None, entry) == "high-hash"


def test_invalid_scrypt_parent_checked_as_sha256d():
    header, auxpow, entry = load("dogecoin_371337_first_auxpow")
    assert reason_of(check_sample, header, auxpow, dict(entry, parent_pow_algo="sha256d")) == "high-hash"


def test_invalid_chain_branch_changed():
    header, auxpow, entry = load("namecoin_37174_explicit_mm_header")
    branch = list(auxpow.chain_branch)
    branch[2] = bytes([branch[2][0] ^ 1]) + branch[2][1:]
    mutated = replace(auxpow, chain_branch=tuple(branch))
    assert reason_of(check_sample, header, mutated, entry) == "auxpow-missing-root"


def test_invalid_chain_index_changed_moves_root():
    header, auxpow, entry = load("namecoin_37174_explicit_mm_header")
    assert (
        reason_of(check_sample, header, replace(auxpow, chain_index=auxpow.chain_index ^ 1), entry)
        == "auxpow-missing-root"
    )


def test_invalid_wrong_index_single_chain():
    header, auxpow, entry = load("namecoin_19200")  # chain tree of one leaf: the expected index is 0
    assert reason_of(check_sample, header, replace(auxpow, chain_index=1), entry) == "auxpow-wrong-index"
    assert reason_of(check_sample, header, replace(auxpow, chain_index=-1), entry) == "auxpow-missing-root"


def test_invalid_wrong_index_changed_merkle_nonce():
    header, auxpow, entry = load("namecoin_37174_explicit_mm_header")
    script = script_of(auxpow)
    nonce_at = script.find(MERGED_MINING_HEADER) + 4 + 32 + 4
    assert compute_expected_index(1, 1, 4) != auxpow.chain_index
    mutated = with_script(auxpow, script[:nonce_at] + (1).to_bytes(4, "little") + script[nonce_at + 4 :])
    assert reason_of(check_auxpow, mutated, header.hash, 1) == "auxpow-wrong-index"


def test_invalid_wrong_size():
    header, auxpow, _ = load("namecoin_37174_explicit_mm_header")
    script = script_of(auxpow)
    size_at = script.find(MERGED_MINING_HEADER) + 4 + 32
    assert script[size_at : size_at + 4] == (16).to_bytes(4, "little")
    mutated = with_script(auxpow, script[:size_at] + (8).to_bytes(4, "little") + script[size_at + 4 :])
    assert reason_of(check_auxpow, mutated, header.hash, 1) == "auxpow-wrong-size"


def test_invalid_missing_size_nonce():
    header, auxpow, _ = load("namecoin_19200")
    script = script_of(auxpow)
    end_of_root = script.find(MERGED_MINING_HEADER) + 4 + 32
    assert (
        reason_of(check_auxpow, with_script(auxpow, script[: end_of_root + 7]), header.hash, 1)
        == "auxpow-missing-size-nonce"
    )
    check_auxpow(with_script(auxpow, script[: end_of_root + 8]), header.hash, 1)


def test_invalid_second_magic():
    header, auxpow, _ = load("namecoin_37174_explicit_mm_header")
    check_auxpow(with_script(auxpow, script_of(auxpow)), header.hash, 1)  # the re-rooting alone is harmless
    mutated = with_script(auxpow, script_of(auxpow) + MERGED_MINING_HEADER)
    assert reason_of(check_auxpow, mutated, header.hash, 1) == "auxpow-multiple-headers"


def test_invalid_magic_not_before_root():
    header, auxpow, _ = load("namecoin_19414_implicit_mm_header")  # legacy form, no magic
    mutated = with_script(auxpow, script_of(auxpow) + MERGED_MINING_HEADER)
    assert reason_of(check_auxpow, mutated, header.hash, 1) == "auxpow-header-not-before-root"


def test_invalid_root_past_20_bytes_without_magic():
    header, auxpow, entry = load("namecoin_19414_implicit_mm_header")
    script = script_of(auxpow)
    assert script.find(header.hash[::-1]) == entry["derived_checks"]["root_offset_in_scriptsig"] == 17
    check_auxpow(with_script(auxpow, b"\x00" * 3 + script), header.hash, 1)  # root at byte 20: allowed
    mutated = with_script(auxpow, b"\x00" * 4 + script)  # root at byte 21
    assert reason_of(check_auxpow, mutated, header.hash, 1) == "auxpow-root-too-late"


def test_invalid_coinbase_not_in_parent():
    header, auxpow, entry = load("namecoin_37174_explicit_mm_header")
    first = auxpow.coinbase_tx.inputs[0]
    coinbase = replace(auxpow.coinbase_tx, inputs=(replace(first, sequence=first.sequence ^ 1),))
    assert reason_of(check_sample, header, replace(auxpow, coinbase_tx=coinbase), entry) == "auxpow-bad-merkle-root"


def test_invalid_coinbase_without_inputs():
    header, auxpow, _ = load("namecoin_19200")
    coinbase = replace(auxpow.coinbase_tx, inputs=())
    root = compute_root_from_branch(coinbase.txid, list(auxpow.coinbase_branch), 0)
    mutated = replace(auxpow, coinbase_tx=coinbase, parent_header=replace(auxpow.parent_header, merkle_root=root))
    assert reason_of(check_auxpow, mutated, header.hash, 1) == "auxpow-coinbase-no-inputs"


def test_invalid_coinbase_index_not_zero():
    header, auxpow, entry = load("namecoin_19200")
    assert reason_of(check_sample, header, replace(auxpow, coinbase_index=1), entry) == "auxpow-coinbase-index"


def test_invalid_parent_with_our_chain_id():
    """The real Namecoin block 19204 (chain ID 1, no auxpow, meets 0x1b00b269) as the parent of 19414."""
    header, auxpow, entry = load("namecoin_19414_implicit_mm_header")
    parent, _, _ = load("namecoin_19204_no_auxpow")
    assert parent.bits == header.bits and parent.chain_id == 1
    mutated = replace(auxpow, parent_header=parent)
    assert reason_of(check_sample, header, mutated, entry) == "auxpow-parent-chain-id"
    assert reason_of(check_auxpow, mutated, header.hash, 1, strict_chain_id=False) == "auxpow-bad-merkle-root"


def test_invalid_parent_with_auxpow_flag():
    header, auxpow, entry = load("syscoin_430000_bitcoin_parent")
    parent = replace(auxpow.parent_header, version=auxpow.parent_header.version | VERSION_AUXPOW)
    assert reason_of(check_sample, header, replace(auxpow, parent_header=parent), entry) == "auxpow-parent-has-auxpow"


def test_invalid_chain_branch_too_long():
    header, auxpow, entry = load("dogecoin_748634")
    long_branch = auxpow.chain_branch + (b"\x00" * 32,) * (31 - len(auxpow.chain_branch))
    assert (
        reason_of(check_sample, header, replace(auxpow, chain_branch=long_branch), entry)
        == "auxpow-chain-branch-too-long"
    )


def test_invalid_block_rules_on_real_samples():
    header, auxpow, entry = load("namecoin_19200")
    assert reason_of(check_sample, header, auxpow, dict(entry, chain_id=4242)) == "bad-chain-id"
    assert reason_of(check_sample, header, None, entry) == "auxpow-missing"
    plain, _, plain_entry = load("namecoin_19204_no_auxpow")
    assert reason_of(check_sample, plain, auxpow, plain_entry) == "auxpow-unexpected"
    late = replace(params_for(1), auxpow_start_height=19201)
    assert reason_of(check_block_proof, header, auxpow, late, 19200) == "auxpow-before-start"
    check_block_proof(header, auxpow, late, 19201)
    never = replace(params_for(1), auxpow_start_height=None)
    assert reason_of(check_block_proof, header, auxpow, never, 10**6) == "auxpow-before-start"
    merge_only = replace(params_for(1), allow_own_pow=False)
    assert reason_of(check_block_proof, plain, None, merge_only, 19204) == "own-pow-not-allowed"
    check_block_proof(header, auxpow, merge_only, 19200)
