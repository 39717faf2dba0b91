"""ZMQ publishers as bitcoind's `-zmqpub<topic>=tcp://...`: hashblock, hashtx, rawblock, rawtx.

Each message is Core's three frames `[topic, body, sequence]`: the topic name (`b"hashblock"`...), the
body (a hash as 32 bytes in display order, or the raw serialized block / transaction) and a
4-byte little-endian sequence number counted per topic from 0. Topics given the same address share
one PUB socket (as Core). Sends happen on the event loop only (ZMQ sockets are not thread-safe) and
never block: a subscriber that falls behind the high-water mark loses messages, as with Core.

pyzmq is imported only when a `--zmqpub*` option is given, so nodes without ZMQ never load it.
"""

from __future__ import annotations

import logging
import re

from hashgrad.chain.hashes import hash_to_display
from hashgrad.errors import HashgradError

ZMQ_TOPICS = ("hashblock", "hashtx", "rawblock", "rawtx")
DEFAULT_HWM = 1000
ZMQ_ADDRESS = re.compile(r"(tcp://[^\s]{1,250}|ipc://[^\s]{1,250})")

log = logging.getLogger("hashgrad.zmq")


def check_zmq_address(address: str) -> str:
    if not ZMQ_ADDRESS.fullmatch(address):
        raise HashgradError("bad-zmq-address", f"expected tcp://HOST:PORT or ipc://PATH, got {address!r}")
    return address


def encode_sequence(sequence: int) -> bytes:
    return (sequence & 0xFFFFFFFF).to_bytes(4, "little")


def compute_body(topic: str, obj) -> bytes:
    """The body of `topic` for a block or transaction object."""
    if topic in ("hashblock", "hashtx"):
        ident = obj.hash if topic == "hashblock" else obj.txid
        return bytes.fromhex(hash_to_display(ident))
    return obj.serialize()


class ZmqPublisher:
    """One PUB socket per address, one sequence counter per topic."""

    def __init__(self, topics: dict[str, str], hwm: int = DEFAULT_HWM):
        try:
            import zmq  # only nodes started with --zmqpub* options load pyzmq
        except ImportError:
            raise HashgradError("zmq-unavailable", "the --zmqpub* options need pyzmq (pip install pyzmq)") from None
        self._zmq = zmq
        self.topics = dict(topics)
        self.hwm = hwm
        self.sequence = {topic: 0 for topic in self.topics}
        self.context = zmq.Context()
        self.sockets = {}
        for address in sorted(set(self.topics.values())):
            sock = self.context.socket(zmq.PUB)
            sock.setsockopt(zmq.SNDHWM, hwm)
            sock.setsockopt(zmq.LINGER, 0)
            try:
                sock.bind(address)
            except zmq.ZMQError as exc:
                sock.close()
                self.close()
                raise HashgradError("cannot-listen", f"ZMQ {address}: {exc}") from None
            self.sockets[address] = sock
            log.info("ZMQ publishing %s on %s", ", ".join(t for t, a in self.topics.items() if a == address), address)

    def publish(self, topic: str, obj) -> None:
        """Send `obj` (a block for *block topics, a transaction for *tx) if `topic` is configured."""
        address = self.topics.get(topic)
        if address is None:
            return
        frames = [topic.encode(), compute_body(topic, obj), encode_sequence(self.sequence[topic])]
        try:
            self.sockets[address].send_multipart(frames, flags=self._zmq.NOBLOCK)
        except self._zmq.ZMQError as exc:  # high-water mark reached: dropped, as bitcoind drops
            log.debug("ZMQ %s not sent: %s", topic, exc)
        self.sequence[topic] += 1

    def publish_block(self, block) -> None:
        """A connected block: its transactions (as Core's BlockConnected), then the block."""
        for tx in block.txs:
            self.publish("hashtx", tx)
            self.publish("rawtx", tx)
        self.publish("hashblock", block)
        self.publish("rawblock", block)

    def publish_transaction(self, tx) -> None:
        self.publish("hashtx", tx)
        self.publish("rawtx", tx)

    def describe(self) -> list[dict]:
        """getzmqnotifications' reply."""
        return [
            {"type": f"pub{topic}", "address": address, "hwm": self.hwm}
            for topic, address in sorted(self.topics.items())
        ]

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close(linger=0)
        self.sockets.clear()
        self.context.term()
