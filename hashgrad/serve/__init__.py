"""Inference (job 1): serving the trained checkpoint and checking that it is served honestly.

engine     generation from a checkpoint: greedy and seeded sampling that anyone can reproduce
verify     one teacher-forced forward pass checks every token of a completion
auth       hotkey-signed requests (BIP340 over method, path, body hash, nonce, time)
protocol   OpenAI-compatible request parsing and response building (pure)
server     the miner's OpenAI-compatible HTTP API (aiohttp)
client     a signing HTTP client for miners' APIs (validators and gateways)
adversaries  cheating servers for tests, the benchmark and the devnet
validator  challenge prompts, scoring, u16 weights for job 1
gateway    routes users' requests to the best miners and spot-checks their answers
export     a Hugging Face GPT-2 directory from a checkpoint
"""
