"""An independent PyTorch implementation of the four reference models of `npm run bench:torch`:
Transformer (causal softmax attention with RoPE), RetNet (multi-scale retention), selective
retention (retention with a Mamba-style input-dependent decay and dt write strength) and Mamba-1
(selective SSM, the reference selective_scan_ref recurrence), in the shared pre-norm shell:
byte embedding, blocks h += mixer(LN(h)); h += W2 gelu(W1 LN(h)) (no biases), final LN, tied head.

Written from the papers (Vaswani et al. 2017 + Su et al. 2021 RoPE; Sun et al. 2023 RetNet; Gu & Dao
2023 Mamba), not translated from seqlab's TypeScript, so the benchmark compares two implementations
of the same function class at the same sizes (parameter counts match seqlab's within the norm
biases). Every model has a training forward (parallel form), a prefill that returns the decode
state, and a one-token decode step (KV cache / recurrent state). PyTorch 1.13 (no SDPA).

`python3 models.py --selftest` checks, in float64 on tiny shapes, that prefill + steps reproduce
the parallel forward for every family.
"""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def rope(x, start):
    """Rotary position encoding on the last dim (pairs (i, i + m/2)); x [B, H, T, m]."""
    T, m = x.shape[-2], x.shape[-1]
    inv = 10000.0 ** (-torch.arange(0, m // 2, dtype=x.dtype) * 2 / m)
    ang = torch.arange(start, start + T, dtype=x.dtype)[:, None] * inv[None, :]
    cos, sin = ang.cos(), ang.sin()
    x1, x2 = x[..., : m // 2], x[..., m // 2:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def heads(x, H):
    B, T, D = x.shape
    return x.view(B, T, H, D // H).transpose(1, 2)


def merge(x):
    B, H, T, m = x.shape
    return x.transpose(1, 2).reshape(B, T, H * m)


class Attention(nn.Module):
    def __init__(self, d, H):
        super().__init__()
        self.H, self.dh = H, d // H
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(d, d, bias=False) for _ in range(4))

    def qkv(self, x, start):
        q, k, v = heads(self.wq(x), self.H), heads(self.wk(x), self.H), heads(self.wv(x), self.H)
        return rope(q, start), rope(k, start), v

    def forward(self, x):
        q, k, v = self.qkv(x, 0)
        T = x.shape[1]
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.dh)
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        return self.wo(merge(torch.softmax(s, -1) @ v))

    def prefill(self, x, cap):
        q, k, v = self.qkv(x, 0)
        B, H, T, dh = k.shape
        K = torch.zeros(B, H, cap, dh, dtype=x.dtype)
        V = torch.zeros(B, H, cap, dh, dtype=x.dtype)
        K[:, :, :T], V[:, :, :T] = k, v
        return self.forward(x), {"k": K, "v": V}

    def step(self, x, st, pos):  # x [B, 1, d]
        q, k, v = self.qkv(x, pos)
        st["k"][:, :, pos: pos + 1], st["v"][:, :, pos: pos + 1] = k, v
        K, V = st["k"][:, :, : pos + 1], st["v"][:, :, : pos + 1]
        p = torch.softmax((q @ K.transpose(-1, -2)) / math.sqrt(self.dh), -1)
        return self.wo(merge(p @ V)), st


class Retention(nn.Module):
    """Multi-scale retention; `selective` replaces the fixed per-head decays log(1 - 2^(-5-h)) by
    a_t = -exp(A_log_h) softplus(x_t W_dt + b_dt)_h and scales k_t by that dt (write strength)."""

    def __init__(self, d, H, dv_total, selective=False):
        super().__init__()
        self.H, self.dk, self.dv, self.selective = H, d // H, dv_total // H, selective
        self.wq, self.wk = nn.Linear(d, d, bias=False), nn.Linear(d, d, bias=False)
        self.wv, self.wg = nn.Linear(d, dv_total, bias=False), nn.Linear(d, dv_total, bias=False)
        self.wo = nn.Linear(dv_total, d, bias=False)
        self.register_buffer("log_gamma", torch.log1p(-(2.0 ** (-5.0 - torch.arange(H, dtype=torch.float32)))))
        if selective:
            self.w_dt = nn.Linear(d, H, bias=True)
            nn.init.normal_(self.w_dt.weight, std=0.02)
            dt = torch.exp(torch.rand(H) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            with torch.no_grad():
                self.w_dt.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)
            self.A_log = nn.Parameter(torch.log(torch.rand(H) * 15 + 1))

    def inputs(self, x, start):
        B, T, _ = x.shape
        q = rope(heads(self.wq(x), self.H), start)
        k = rope(heads(self.wk(x), self.H), start) / math.sqrt(self.dk)
        v = heads(self.wv(x), self.H)
        if self.selective:
            dt = F.softplus(self.w_dt(x)).transpose(1, 2)  # [B, H, T]
            a = -torch.exp(self.A_log)[None, :, None] * dt
            k = k * dt[..., None]
        else:
            a = self.log_gamma.to(x.dtype)[None, :, None].expand(B, self.H, T)
        return q, k, v, a

    def out(self, x, o):  # o [B, H, T, dv]
        o = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + 1e-6)  # per-head RMS norm, no affine
        return self.wo(F.silu(self.wg(x)) * merge(o))

    def parallel(self, q, k, v, a):
        T = q.shape[2]
        c = torch.cumsum(a, -1)  # [B, H, T]
        diff = c[..., :, None] - c[..., None, :]  # log decay from s to t (<= 0 for s <= t)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        Dm = torch.exp(diff.masked_fill(~mask, float("-inf")))
        return ((q @ k.transpose(-1, -2)) * Dm) @ v

    def forward(self, x):
        q, k, v, a = self.inputs(x, 0)
        return self.out(x, self.parallel(q, k, v, a))

    def prefill(self, x, cap):
        q, k, v, a = self.inputs(x, 0)
        c = torch.cumsum(a, -1)
        w = torch.exp(c[..., -1:] - c)  # decay from s to the last position
        S = (k * w[..., None]).transpose(-1, -2) @ v  # [B, H, dk, dv]
        return self.out(x, self.parallel(q, k, v, a)), {"S": S}

    def step(self, x, st, pos):
        q, k, v, a = self.inputs(x, pos)  # [B, H, 1, .]
        S = torch.exp(a)[..., None] * st["S"] + k.transpose(-1, -2) @ v
        return self.out(x, q @ S), {"S": S}


class Mamba(nn.Module):
    """Mamba-1 block: in_proj, causal depthwise conv, silu, x_proj -> (dt, B, C), softplus dt,
    selective scan h_t = exp(dt A) h_{t-1} + dt B x, y = C h + D x, gate silu(z), out_proj."""

    def __init__(self, d, expand=2, N=16, K=4):
        super().__init__()
        self.din, self.N, self.K, self.R = expand * d, N, K, math.ceil(d / 16)
        din, R = self.din, self.R
        self.in_proj = nn.Linear(d, 2 * din, bias=False)
        self.conv = nn.Conv1d(din, din, K, groups=din, padding=K - 1, bias=True)
        self.x_proj = nn.Linear(din, R + 2 * N, bias=False)
        self.dt_proj = nn.Linear(R, din, bias=True)
        dt = torch.exp(torch.rand(din) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(din, 1))
        self.D = nn.Parameter(torch.ones(din))
        self.out_proj = nn.Linear(din, d, bias=False)

    def ssm_inputs(self, xa):
        dtr, Bm, Cm = torch.split(self.x_proj(xa), [self.R, self.N, self.N], dim=-1)
        return F.softplus(self.dt_proj(dtr)), Bm, Cm, -torch.exp(self.A_log)

    def scan(self, xa, h=None):  # xa [B, T, din] -> y [B, T, din], h [B, din, N]
        dt, Bm, Cm, A = self.ssm_inputs(xa)
        B_, T, din = xa.shape
        dA = torch.exp(dt[..., None] * A)  # [B, T, din, N]
        dBx = (dt * xa)[..., None] * Bm[:, :, None, :]
        h = xa.new_zeros(B_, din, self.N) if h is None else h
        ys = []
        # unbind once: indexing dA[:, t] in the loop would make autograd scatter into a full-size
        # zero tensor at every step (quadratic in T)
        for a_t, u_t, c_t in zip(dA.unbind(1), dBx.unbind(1), Cm.unbind(1)):
            h = a_t * h + u_t
            ys.append((h @ c_t[:, :, None])[..., 0])
        return torch.stack(ys, 1) + xa * self.D, h

    def run(self, x):
        T = x.shape[1]
        xi, z = self.in_proj(x).chunk(2, dim=-1)
        xa = F.silu(self.conv(xi.transpose(1, 2))[..., :T].transpose(1, 2))
        y, h = self.scan(xa)
        return self.out_proj(y * F.silu(z)), xi, h

    def forward(self, x):
        return self.run(x)[0]

    def prefill(self, x, cap):
        out, xi, h = self.run(x)
        conv = F.pad(xi.transpose(1, 2), (self.K, 0))[..., -self.K:]  # last K pre-conv inputs
        return out, {"conv": conv, "h": h}

    def step(self, x, st, pos):  # x [B, 1, d]
        xi, z = self.in_proj(x[:, 0]).chunk(2, dim=-1)
        conv = torch.cat([st["conv"][..., 1:], xi[..., None]], -1)
        xa = F.silu((conv * self.conv.weight[:, 0, :]).sum(-1) + self.conv.bias)
        dt, Bm, Cm, A = self.ssm_inputs(xa)
        h = torch.exp(dt[..., None] * A) * st["h"] + (dt * xa)[..., None] * Bm[:, None, :]
        y = (h @ Cm[..., None])[..., 0] + xa * self.D
        return self.out_proj(y * F.silu(z))[:, None], {"conv": conv, "h": h}


class LM(nn.Module):
    def __init__(self, family, vocab=257, d=128, n_layers=4, heads_=4, ffn_hidden=512, dvt=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        nn.init.normal_(self.embed.weight, std=0.02)

        def mixer():
            if family == "transformer":
                return Attention(d, heads_)
            if family == "retnet":
                return Retention(d, heads_, dvt)
            if family == "selret":
                return Retention(d, heads_, dvt, selective=True)
            if family == "mamba":
                return Mamba(d)
            raise ValueError(f"unknown family {family}")

        self.mixers = nn.ModuleList(mixer() for _ in range(n_layers))
        self.norm1 = nn.ModuleList(nn.LayerNorm(d) for _ in range(n_layers))
        self.norm2 = nn.ModuleList(nn.LayerNorm(d) for _ in range(n_layers))
        self.ffn = nn.ModuleList(
            nn.Sequential(nn.Linear(d, ffn_hidden, bias=False), nn.GELU(), nn.Linear(ffn_hidden, d, bias=False))
            for _ in range(n_layers))
        self.norm_f = nn.LayerNorm(d)

    def head(self, h):
        return self.norm_f(h) @ self.embed.weight.t()

    def forward(self, ids):
        h = self.embed(ids)
        for mx, n1, n2, f in zip(self.mixers, self.norm1, self.norm2, self.ffn):
            h = h + mx(n1(h))
            h = h + f(n2(h))
        return self.head(h)

    def prefill(self, ids, cap):
        h = self.embed(ids)
        states = []
        for mx, n1, n2, f in zip(self.mixers, self.norm1, self.norm2, self.ffn):
            y, st = mx.prefill(n1(h), cap)
            h = h + y
            h = h + f(n2(h))
            states.append(st)
        return self.head(h), states

    def step(self, token, states, pos):  # token [B]
        h = self.embed(token)[:, None]
        out = []
        for mx, n1, n2, f, st in zip(self.mixers, self.norm1, self.norm2, self.ffn, states):
            y, st = mx.step(n1(h), st, pos)
            h = h + y
            h = h + f(n2(h))
            out.append(st)
        return self.head(h)[:, 0], out


def selftest():
    torch.manual_seed(0)
    for family in ["transformer", "retnet", "selret", "mamba"]:
        m = LM(family, vocab=11, d=32, n_layers=2, heads_=2, ffn_hidden=64, dvt=32).double()
        ids = torch.randint(0, 11, (2, 9))
        with torch.no_grad():
            full = m(ids)
            logits, st = m.prefill(ids[:, :6], 9)
            err = (logits - full[:, :6]).abs().max().item()
            for p in range(6, 9):
                lg, st = m.step(ids[:, p], st, p)
                err = max(err, (lg - full[:, p]).abs().max().item())
        scale = full.abs().max().item()
        ok = err <= 1e-9 * max(1.0, scale)
        print(f"{family}: prefill + decode vs parallel forward max |diff| {err:.2e} ({'ok' if ok else 'FAIL'})")
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    if "--selftest" in sys.argv:
        selftest()
