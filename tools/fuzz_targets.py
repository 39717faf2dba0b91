"""Fuzz targets: every decoder of untrusted bytes, each a function of one byte string.

The property every target checks: whatever the bytes, the decoder returns or raises the project's
error type (`HashgradError`, with a reason code); any other exception is a failure. The same targets
run under hypothesis (tests/fuzz, bench/bench_reliability.py) and under atheris (tools/fuzz.py, the
long run). `SEEDS` holds one valid input per target, built here with the project's own encoders, so
mutation-based fuzzing starts from deep inside each format.

    frame        a P2P byte stream -> read_frame (magic, command, length, checksum)
    message      command byte + payload -> decode_message, for every command
    tx           parse_transaction + check_transaction + decode_payload
    header       a headers payload (HeadersMessage.deserialize) + the proof checks headers sync runs
    block        parse_block + check_block_body (Merkle, coinbase, signatures, sizes)
    auxpow       parse_auxpow
    update       decode_update (a training artifact: safetensors + JSON header + packed payload)
    checkpoint   decode_checkpoint (safetensors + config + canonical form)
    update_fields, checkpoint_fields   a valid artifact with one JSON header field replaced by any value
    reply        an inference miner's reply: JSON body -> parse_claim; SSE stream -> merge_stream
    request      an inference request body -> the server's JSON parse + parse_request
    rest         a REST height parameter (the one parsed before the node is touched)
    json         safejson.parse_json itself
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct

import torch

from hashgrad.chain.auxpow import parse_auxpow
from hashgrad.chain.block import parse_block
from hashgrad.chain.header import BlockHeader
from hashgrad.chain.keys import SigningKey
from hashgrad.chain.params import HASHGRAD_REGTEST
from hashgrad.chain.tx import TransferPayload, TxKind, decode_payload, parse_transaction, sign_transaction
from hashgrad.chain.validation import check_block_body, check_header_proof, check_transaction
from hashgrad.errors import HashgradError, ProtocolError
from hashgrad.node.rest import _blockhash_by_height
from hashgrad.p2p.messages import MESSAGE_TYPES, HeadersMessage, PingMessage, decode_message, encode_message
from hashgrad.p2p.wire import compute_message_limits, read_frame
from hashgrad.safejson import parse_json
from hashgrad.serve.client import merge_stream, parse_claim, parse_reply_json
from hashgrad.serve.engine import SamplingParams
from hashgrad.serve.protocol import KIND_COMPLETION, parse_request
from hashgrad.work.compress import compress, compute_layout
from hashgrad.work.miner import build_update
from hashgrad.work.model import Checkpoint, compute_initial_state, decode_checkpoint, encode_checkpoint
from hashgrad.work.params import get_preset
from hashgrad.work.reveal import compute_reveal_package, decode_reveal_manifest
from hashgrad.work.update import decode_update

PARAMS = HASHGRAD_REGTEST
LIMITS = compute_message_limits(PARAMS)
COMMANDS = sorted(MESSAGE_TYPES)
WORK = get_preset("tiny")
LAYOUT = compute_layout(WORK.model, WORK.chunk_size, WORK.topk)
MAX_INPUT = 1 << 16  # per input: decoders must stay fast on anything this size


class FuzzFailure(Exception):
    """A decoder raised something other than the project's error type."""


def fuzz_frame(data: bytes) -> None:
    async def read() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        while True:
            await read_frame(reader, PARAMS.magic, LIMITS)

    asyncio.run(read())


def fuzz_message(data: bytes) -> None:
    if not data:
        return
    command = COMMANDS[data[0] % len(COMMANDS)]
    decode_message(command, data[1:])


def fuzz_tx(data: bytes) -> None:
    tx = parse_transaction(data)
    if not tx.is_coinbase():
        check_transaction(PARAMS, tx)
    decode_payload(tx)


def fuzz_header(data: bytes) -> None:
    """A `headers` payload (each header with its AuxPoW proof when flagged) and the proof check sync runs."""
    message = HeadersMessage.deserialize(data)
    for header, auxpow in zip(message.headers, message.auxpows):
        check_header_proof(PARAMS, header, auxpow)


def fuzz_block(data: bytes) -> None:
    block = parse_block(data, PARAMS.max_block_size)
    check_block_body(PARAMS, block)


def fuzz_auxpow(data: bytes) -> None:
    parse_auxpow(data)


def fuzz_update(data: bytes) -> None:
    decode_update(data, WORK, LAYOUT)


def fuzz_reveal_manifest(data: bytes) -> None:
    decode_reveal_manifest(data, WORK)


def fuzz_checkpoint(data: bytes) -> None:
    decode_checkpoint(data, 1 << 24)


def replace_header_field(artifact: bytes, data: bytes) -> bytes:
    """The artifact with one field of its hashgrad JSON header (chosen by data[0]) set to a JSON value
    decoded from the rest of `data` (or to its raw text): type confusion deep inside a valid file."""
    header_len = int.from_bytes(artifact[:8], "little")
    outer = json.loads(artifact[8 : 8 + header_len])
    inner = json.loads(outer["__metadata__"]["hashgrad"])
    paths = [(k,) for k in inner] + [("config", k) for k in inner.get("config", {})]
    path = paths[data[0] % len(paths)] if data else paths[0]
    text = data[1:].decode("utf-8", errors="replace")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = text
    target = inner
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    outer["__metadata__"]["hashgrad"] = json.dumps(inner)
    raw = json.dumps(outer).encode()
    return len(raw).to_bytes(8, "little") + raw + artifact[8 + header_len :]


def fuzz_update_fields(data: bytes) -> None:
    decode_update(replace_header_field(SEED_UPDATE, data), WORK, LAYOUT)


def fuzz_checkpoint_fields(data: bytes) -> None:
    decode_checkpoint(replace_header_field(SEED_CHECKPOINT, data), 1 << 24)


def fuzz_reply(data: bytes) -> None:
    if data[:1] == b"S":  # a stream
        merge_stream(data[1:].split(b"\n"))
        return
    parse_claim((65, 66), 4, SamplingParams(), parse_reply_json(data))


def fuzz_request(data: bytes) -> None:
    body = parse_json(data, ProtocolError, "bad-json", 1 << 20)
    parse_request(body, KIND_COMPLETION, 64, 64, 63, 7)


def fuzz_rest(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        asyncio.run(_blockhash_by_height(None, [text]))
    except AttributeError:
        # reached the node (None here): only ASCII digit strings may get that far
        if not (text.isascii() and text.isdigit()):
            raise


def fuzz_json(data: bytes) -> None:
    parse_json(data, HashgradError, "bad-json", MAX_INPUT)


TARGETS = {
    "frame": fuzz_frame,
    "message": fuzz_message,
    "tx": fuzz_tx,
    "header": fuzz_header,
    "block": fuzz_block,
    "auxpow": fuzz_auxpow,
    "update": fuzz_update,
    "checkpoint": fuzz_checkpoint,
    "reveal_manifest": fuzz_reveal_manifest,
    "reply": fuzz_reply,
    "request": fuzz_request,
    "rest": fuzz_rest,
    "json": fuzz_json,
    "update_fields": fuzz_update_fields,
    "checkpoint_fields": fuzz_checkpoint_fields,
}


def run_target(name: str, data: bytes) -> None:
    """Run one input; FuzzFailure for any exception that is not a HashgradError."""
    try:
        TARGETS[name](data[:MAX_INPUT])
    except HashgradError:
        pass
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer looks for
        raise FuzzFailure(f"{name}: {type(exc).__name__}: {str(exc)[:200]}") from exc


# ----------------------------------------------------------------------------- valid seeds
def build_update_seed() -> bytes:
    key = SigningKey(hashlib.sha256(b"fuzz seed key").digest())
    vector = torch.randn(LAYOUT.num_params, generator=torch.Generator().manual_seed(0))
    return build_update(
        WORK, 1, b"\x01" * 32, key.pubkey, b"\x02" * 32, compress(vector, LAYOUT, WORK.quant_bins), LAYOUT
    )[0]


SEED_UPDATE = build_update_seed()
SEED_CHECKPOINT = encode_checkpoint(Checkpoint(WORK.model, compute_initial_state(WORK.model, 0)))


def build_auxpow_seed(block_hash: bytes = b"\x05" * 32, bits: int = 0x207FFFFF) -> bytes:
    """A well-formed auxpow (segwit parent coinbase committing to a block hash), as pools build it;
    the parent's nonce is the first whose hash meets `bits`, so the proof of a real hash holds."""
    from hashgrad.chain.auxpow import build_aux_coinbase_script, build_auxpow
    from hashgrad.chain.btc_tx import BitcoinTx, TxIn, TxOut
    from hashgrad.chain.pow import is_valid_proof_of_work

    script = b"\x03\x01\x02\x03" + build_aux_coinbase_script(block_hash, 0, 0)
    coinbase = BitcoinTx(
        2,
        (TxIn(b"\x00" * 32, 0xFFFFFFFF, script, 0xFFFFFFFF, (b"\x00" * 32,)),),
        (TxOut(312_500_000, b"\x00\x14" + b"\x77" * 20),),
        0,
    )
    parent = BlockHeader(0x20000000, b"\x09" * 32, coinbase.txid, 1_800_000_000, 0x207FFFFF, 0)
    while not is_valid_proof_of_work(parent.hash, bits, PARAMS.pow.pow_limit):
        parent = parent.with_nonce(parent.nonce + 1)
    return build_auxpow(coinbase, parent).serialize()


def build_headers_seeds(genesis) -> list[bytes]:
    """A plain headers payload, and one with a merge-mined header whose proof holds."""
    from hashgrad.chain.auxpow import parse_auxpow
    from hashgrad.chain.genesis import compute_block_version

    child = BlockHeader(
        compute_block_version(PARAMS, auxpow=True), genesis.hash, b"\x04" * 32, 1_800_000_000, PARAMS.genesis_bits, 0
    )
    auxpow = parse_auxpow(build_auxpow_seed(child.hash, child.bits))
    check_header_proof(PARAMS, child, auxpow)
    return [
        HeadersMessage((genesis.header,)).serialize(),
        HeadersMessage((genesis.header, child), (None, auxpow)).serialize(),
    ]


def build_seeds() -> dict[str, list[bytes]]:
    """One or more valid inputs per target (so mutations start inside each format)."""
    key = SigningKey(hashlib.sha256(b"fuzz seed key").digest())
    tx = sign_transaction(
        key, PARAMS.magic, TxKind.TRANSFER, 0, 1_000, TransferPayload(key.pubkey, 5).serialize(), b"\x00" * 32
    )
    from hashgrad.chain.genesis import build_genesis_block

    genesis = build_genesis_block(PARAMS)
    headers_seeds = build_headers_seeds(genesis)
    reply = (
        b'{"choices":[{"text":"AB","token_ids":[65,66],"logprobs":{"token_logprobs":[-0.5,-0.25]},'
        b'"finish_reason":"length"}],"system_fingerprint":"' + b"ab" * 32 + b'","seed":3}'
    )
    stream = (
        b'Sdata: {"id":"x","choices":[{"text":"A","token_ids":[65]}]}\n\ndata: {"id":"x","choices":[{"text":"B",'
        b'"token_ids":[66],"finish_reason":"length"}]}\n\ndata: [DONE]\n'
    )
    request = b'{"model":"m","prompt":"hello","max_tokens":4,"temperature":0.7,"seed":3,"top_k":5,"logprobs":1}'
    return {
        "frame": [encode_message(PARAMS.magic, PingMessage(7)) * 2],
        "message": [
            bytes([COMMANDS.index("tx")]) + tx.serialize(),
            bytes([COMMANDS.index("ping")]) + b"\x07" * 8,
            bytes([COMMANDS.index("headers")]) + headers_seeds[1],
        ],
        "tx": [tx.serialize()],
        "header": headers_seeds,
        "block": [genesis.serialize()],
        "auxpow": [build_auxpow_seed()],
        "update": [SEED_UPDATE],
        "checkpoint": [SEED_CHECKPOINT],
        "reveal_manifest": [compute_reveal_package(bytes(range(256)) * 20_000).manifest],
        "update_fields": [b"\x00" + b'"x"', b"\x03[1]", b"\x05{}", b"\x07-1", b"\x02" + b"9" * 30],
        "checkpoint_fields": [b"\x00" + b'"x"', b"\x03[1]", b"\x05{}", b"\x04-1", b"\x06" + b"9" * 30],
        "reply": [reply, stream],
        "request": [request],
        "rest": [b"12", "²".encode()],
        "json": [b'{"a":[1,2,{"b":"[[["}],"c":null}'],
    }


def mutate(seed: bytes, choices: bytes) -> bytes:
    """A deterministic mutation of `seed` steered by `choices` (flip, insert, delete, truncate, splice)."""
    data = bytearray(seed)
    for i in range(0, len(choices) - 3, 4):
        op, a, b, c = choices[i : i + 4]
        if not data:
            data = bytearray(choices[i:])
            break
        pos = (a << 8 | b) % len(data)
        if op % 5 == 0:
            data[pos] ^= 1 << (c % 8)
        elif op % 5 == 1:
            data[pos:pos] = bytes([c]) * (1 + c % 4)
        elif op % 5 == 2:
            del data[pos : pos + 1 + c % 8]
        elif op % 5 == 3:
            del data[pos:]
        else:
            data[pos : pos + 4] = struct.pack("<I", (c * 0x01010101) & 0xFFFFFFFF)
    return bytes(data)
