"""The useful work: decentralized training of one open model by untrusting miners.

Modules, in dependency order:
    hashing     tagged SHA-256, seeds, commitments (fixed `struct` layouts, no torch)
    params      WorkParams: every knob of a training job, with presets
    model       the GPT (GPT-2 parameter layout) and canonical checkpoint bytes
    data        token pages, dataset manifests, page assignment and batch order
    compress    chunked top-k + quantized values + error feedback, bit-packed
    update      the update artifact: safetensors payload + header (job, epoch, base, hotkey, sha256(Δ))
    miner       H inner AdamW steps -> pseudo-gradient -> compressed, content-addressed artifact
    artifacts   content-addressed artifact store behind an interface
    evaluate    the loss test, the replay audit and the held-out loss
    scoring     the validator: format, copy, stale, loss test, replay audit -> weights (pure)
    aggregate   the outer step: next checkpoint from accepted updates (pure, bit-identical)
    adversaries cheating miners as first-class options
    centralized the single-optimizer baseline the swarm is measured against
    swarm       an in-process epoch loop over the same code (simulation, benchmark, CLI)
"""
