"""JSON views of chain objects, shared by the JSON-RPC methods and the REST view.

Field names follow Bitcoin Core's `getblock`/`getblockheader`/`getrawtransaction` where one exists.
Hashes are printed in display (byte-reversed) order, keys as this network's bech32m addresses, and
amounts as integers in base units (1 coin = 10^8): never floats, so nothing is lost in JSON.
"""

from __future__ import annotations

from hashgrad.chain.bech32 import encode_address
from hashgrad.chain.block import Block
from hashgrad.chain.coordination_tx import CoordKind
from hashgrad.chain.hashes import hash_to_display
from hashgrad.chain.params import ChainParams
from hashgrad.chain.tx import ZERO_KEY, Transaction, TxKind, decode_payload
from hashgrad.errors import HashgradError


def compute_difficulty(bits: int) -> float:
    """Bitcoin Core's GetDifficulty: how many times Bitcoin's difficulty-1 target (0x1d00ffff) the target
    of `bits` is, so a merge-mining pool compares our difficulty with Bitcoin's directly (regtest: 4.66e-10)."""
    mantissa = bits & 0x00FFFFFF
    if not mantissa:
        return 0.0
    shift = (bits >> 24) & 0xFF
    difficulty = 0x0000FFFF / mantissa
    while shift < 29:
        difficulty *= 256.0
        shift += 1
    while shift > 29:
        difficulty /= 256.0
        shift -= 1
    return difficulty


def header_to_json(chainstate, params: ChainParams, entry, header) -> dict:
    active = chainstate.is_on_active_chain(entry)
    next_hash = chainstate.get_block_hash(entry.height + 1) if active else None
    out = {
        "hash": hash_to_display(entry.hash),
        "confirmations": chainstate.height - entry.height + 1 if active else -1,
        "height": entry.height,
        "version": header.version,
        "versionHex": f"{header.version & 0xFFFFFFFF:08x}",
        "merkleroot": hash_to_display(header.merkle_root),
        "time": header.time,
        "mediantime": chainstate.compute_median_time_past(entry),
        "nonce": header.nonce,
        "bits": f"{header.bits:08x}",
        "difficulty": compute_difficulty(header.bits),
        "chainwork": f"{entry.chainwork:064x}",
        "auxpow": header.is_auxpow(),
    }
    if entry.height > 0:
        out["previousblockhash"] = hash_to_display(entry.prev)
    if next_hash is not None:
        out["nextblockhash"] = hash_to_display(next_hash)
    return out


def block_to_json(chainstate, params: ChainParams, entry, block: Block, verbosity: int) -> dict:
    out = header_to_json(chainstate, params, entry, block.header)
    out["nTx"] = len(block.txs)
    out["size"] = block.size
    out["strippedsize"] = block.size
    out["weight"] = 4 * block.size
    if block.auxpow is not None:
        out["auxpow"] = auxpow_to_json(block.auxpow, verbosity >= 2)
    else:
        del out["auxpow"]  # Namecoin's getblock has the member only on merge-mined blocks
    if verbosity >= 2:
        out["tx"] = [tx_to_json(params, tx) for tx in block.txs]
    else:
        out["tx"] = [hash_to_display(tx.txid) for tx in block.txs]
    return out


def auxpow_to_json(auxpow, verbose: bool) -> dict:
    """Namecoin's AuxpowToJSON: the parent coinbase, its branch and index, the chain branch, the parent header."""
    coinbase = auxpow.coinbase_tx
    parent = auxpow.parent_header
    out = {
        "tx": {
            "hex": coinbase.serialize().hex(),
            "txid": hash_to_display(coinbase.txid),
            "hash": hash_to_display(coinbase.wtxid),
            "version": coinbase.version,
            "locktime": coinbase.locktime,
            "vin": [{"coinbase": txin.script_sig.hex(), "sequence": txin.sequence} for txin in coinbase.inputs],
            "vout": [
                {"value": txout.value, "n": n, "scriptPubKey": {"hex": txout.script_pubkey.hex()}}
                for n, txout in enumerate(coinbase.outputs)
            ],
            "blockhash": hash_to_display(parent.hash),
        },
        "index": auxpow.coinbase_index,
        "chainindex": auxpow.chain_index,
        "merklebranch": [hash_to_display(h) for h in auxpow.coinbase_branch],
        "chainmerklebranch": [hash_to_display(h) for h in auxpow.chain_branch],
    }
    if verbose:
        out["parentblock"] = {
            "hash": hash_to_display(parent.hash),
            "version": parent.version,
            "versionHex": f"{parent.version & 0xFFFFFFFF:08x}",
            "previousblockhash": hash_to_display(parent.prev_hash),
            "merkleroot": hash_to_display(parent.merkle_root),
            "time": parent.time,
            "bits": f"{parent.bits:08x}",
            "nonce": parent.nonce,
        }
    else:
        out["parentblock"] = parent.serialize().hex()
    return out


def tx_to_json(params: ChainParams, tx: Transaction) -> dict:
    out = {
        "txid": hash_to_display(tx.txid),
        "hash": hash_to_display(tx.txid),
        "version": tx.version,
        "kind": _kind_name(tx.kind),
        "sender": None if tx.sender == ZERO_KEY else encode_address(params.hrp, tx.sender),
        "nonce": tx.nonce,
        "fee": tx.fee,
        "size": tx.size,
    }
    out.update(payload_to_json(params, tx))
    return out


def payload_to_json(params: ChainParams, tx: Transaction) -> dict:
    try:
        payload = decode_payload(tx)
    except HashgradError:
        return {"payload": tx.payload.hex()}
    out = {}
    for name, value in vars(payload).items():
        out[name] = encode_address(params.hrp, value) if name == "recipient" else _value_to_json(value)
    return out


def _value_to_json(value):
    """Bytes as hex, tuples (weights, evidence entries) as lists, at any depth."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_value_to_json(item) for item in value]
    return value


def _kind_name(kind: int) -> str:

    for kinds in (TxKind, CoordKind):
        try:
            return kinds(kind).name.lower()
        except ValueError:
            continue
    return f"kind-{kind}"
