"""PyTorch side of `npm run bench:torch` (driven by bench/pytorch/run.ts; one family per process).

Trains one reference model on the batches the driver wrote (int32 inputs and targets,
[steps, B, T] each, the same batches seqlab trains on) with AdamW and global-norm clipping, then
measures greedy decoding after prompts of each length. Prints one JSON line:
  train_tokens_per_s (median over the steps after `warmup`), decode_ms_per_token {L: ms},
  rss_peak_bytes (process peak resident memory), params, final_loss.

usage: bench.py FAMILY BATCHES_FILE STEPS B T LENGTHS DECODE_TOKENS THREADS WARMUP
"""
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import LM  # noqa: E402


def main():
    family, path, steps, B, T, lengths, decode_tokens, threads, warmup = sys.argv[1:10]
    repeats = int(sys.argv[10]) if len(sys.argv) > 10 else 1
    steps, B, T, decode_tokens, threads, warmup = map(int, (steps, B, T, decode_tokens, threads, warmup))
    lengths = [int(x) for x in lengths.split(",") if x]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with open(path, "rb") as f:
        raw = torch.frombuffer(bytearray(f.read()), dtype=torch.int32)
    data = raw.view(2, steps, B, T).long()
    model = LM(family)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "A_log" in name or name.endswith(".D") else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-3, betas=(0.9, 0.95), eps=1e-8)
    rates, loss = [], float("nan")
    for s in range(steps):
        t0 = time.perf_counter()
        x, y = data[0, s], data[1, s]
        logits = model(x)
        lossT = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        lossT.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss = lossT.item()
        if s >= warmup:
            rates.append(B * T / (time.perf_counter() - t0))
    decode = {}
    gen = torch.Generator().manual_seed(1)
    model.eval()
    with torch.no_grad():
        for L in lengths:
            prompt = torch.randint(0, 257, (1, L), generator=gen)
            times = []
            for r in range(1 + repeats):  # one untimed round first
                logits, st = model.prefill(prompt, L + decode_tokens)
                tok = logits[:, -1].argmax(-1)
                t0 = time.perf_counter()
                for i in range(decode_tokens):
                    lg, st = model.step(tok, st, L + i)
                    tok = lg.argmax(-1)
                if r > 0:
                    times.append((time.perf_counter() - t0) * 1000 / decode_tokens)
            decode[str(L)] = statistics.median(times)
    print(json.dumps({
        "family": family,
        "train_tokens_per_s": statistics.median(rates) if rates else None,
        "decode_ms_per_token": decode,
        "rss_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "params": sum(p.numel() for p in model.parameters()),
        "final_loss": loss,
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
