"""The decoder's training pass as one autograd Function: the same maths as `EDM.forward`, fewer, larger ops.

`EDM.forward` (s2s/model.py) is the readable reference: per output step, attention, two LSTM cells
and the output layer, each a handful of small ops that autograd records and then walks back one by
one. At training sizes (batch 64, hidden 128) those ops are so small that recording, dispatching
and walking them costs about as much as the arithmetic. `forward` here computes the same logits
for the same parameters, and `DecoderPass.backward` writes the gradients out by hand:

- forward, per step: attention (scores, softmax, context) and each layer's cell in ~25 ops, into
  buffers kept for the backward pass;
- layer 0's input product E W_ih0^T + b is computed once per batch for the whole output vocabulary
  (V x 4H); a step gathers its rows by token instead of multiplying;
- tanh a is computed as 2 sigma(2a) - 1: the g gate's weights are doubled once per batch, so one
  sigmoid covers all four gates (a tanh costs several sigmoids on the CPU);
- backward walks the steps in reverse for what flows through time (dh, dc, the attention's
  softmax), with each gate's local factor (below) computed for all steps at once beforehand,
  and computes every weight gradient at the end as one product over all steps (S*B rows)
  rather than S small ones.

The gradients, written beside the code (sigma the logistic, gates i, f, g, o of a cell,
c' = f c + i g, h' = o tanh c'):
    do = dh' tanh c'                     di = dc' g        df = dc' c        dg = dc' i
    dc' += dh' o (1 - tanh^2 c')         dc (to the step before) = dc' f
    pre-activations: d(i, f, o) *= sigma (1 - sigma), dg *= 1 - g^2
    attention, w = softmax(s), ctx = w V, s = K q / sqrt(H):
    dw = V dctx,  ds = w (dw - <w, dw>),  dq = K^T ds / sqrt(H),  dV += w^T dctx,  dK += ds q^T / sqrt(H)

Only rounding differs from autograd's (the order of float additions, tanh as above):
tests/test_fused.py checks every parameter's gradient against `EDM.forward`'s autograd, to float32's
and float64's rounding, over models, queries, encoders, masks, forcing and ragged batches. The
teacher-forcing coins are drawn as one (S, B) block from the same generator, the same numbers on the
CPU as S draws of B. Dropout masks are drawn up front from the global
generator: the same distribution as nn.Dropout, not the same numbers. Scores "general" and
"additive" are not covered (`supported` says so) and train through `EDM.forward`. Under autocast
(train --amp) only the encoder runs in bfloat16: the decoder pass here stays in the model's own type.

`python -m bench.model --case training` measures it against autograd through `EDM.forward` (docs/speed.md).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .model import EDM, Memory
from .tokenizer import BOS_ID, PAD_ID


class Plan(NamedTuple):
    """What the decoder pass reads but does not differentiate."""

    teacher_forcing: float  # the forcing ratio (1.0: every step fed the target)
    target: torch.Tensor  # (B, S) token ids
    forced: torch.Tensor  # (S, B) bool: step t of row b is fed the target's token
    blocked: torch.Tensor | None  # (S, L*B, T): 0 where a step may attend, -inf where not (None: no attention)
    between: torch.Tensor | None  # (S, L-1, B, H) dropout masks between layers, scaled by 1/keep (None: none)
    top: torch.Tensor | None  # (S, B, H) the dropout mask on the top layer's output
    attention: bool  # the model attends (False: the plain EDM)
    query_state: bool  # the query is the decoder's state (False: a projection of the piece fed in)
    scale: float  # the keys' scale: 1/sqrt(H) for scaled_dot, else 1


class Kept(NamedTuple):
    """What the forward pass keeps for the backward pass."""

    hs: torch.Tensor  # (S+1, L, B, H) h after each step; [0] is the start
    cs: torch.Tensor  # (S+1, L, B, H) c likewise
    sig: torch.Tensor  # the gates' sigmoids
    g_tanh: torch.Tensor  # tanh of the g gate
    c_tanh: torch.Tensor  # tanh c'
    given: torch.Tensor  # (S, L, B, H) the h each cell was given: the context, or (plain EDM) its previous h
    inputs: torch.Tensor  # the layers' inputs
    tops: torch.Tensor  # the top layer's outputs
    weights: torch.Tensor | None  # the attention weights
    q_input: torch.Tensor | None  # the queries of query "input"
    tokens: torch.Tensor  # the token fed at each step


def supported(model: EDM) -> bool:
    """The plain EDM, and attention with dot or scaled-dot scores, any query, encoder, bridge and mask; not a
    Transformer, whose own forward already runs every step in one parallel pass."""
    return isinstance(model, EDM) and (not model.has_attention or model.config.score in ("dot", "scaled_dot"))


def forward(model: EDM, source: torch.Tensor, lengths: torch.Tensor, target: torch.Tensor, *,
            teacher_forcing: float = 1.0, mask: str = "bidirectional",
            generator: torch.Generator | None = None) -> torch.Tensor:
    """`model(source, lengths, target, ...)` for a training pass -> logits (B, S, V), by the fused decoder.

    Under autocast (train --amp) the encoder runs in the autocast's type (bfloat16: its LSTMs are
    most of its cost) and the decoder pass in the model's own type, as without it.
    """
    if not supported(model):
        return model(source, lengths, target, teacher_forcing=teacher_forcing, mask=mask, generator=generator)
    memory, start = model.encode(source, lengths)  # start: (h, c), each (L, B, H)
    with torch.autocast(source.device.type, enabled=False):
        return _decode(model, memory, start, target, teacher_forcing=teacher_forcing, mask=mask, generator=generator)


def _decode(model: EDM, memory: Memory, start: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor, *,
            teacher_forcing: float, mask: str, generator: torch.Generator | None) -> torch.Tensor:
    """The decoder pass of `forward`, in the model's own type, from what the encoder left."""
    dtype = model.lm.weight.dtype  # an autocast encoder's states come in bfloat16
    values, h0, c0 = memory.values.to(dtype), start[0].to(dtype), start[1].to(dtype)
    batch, steps = target.shape
    device, (layers, _, hidden) = h0.device, h0.shape
    forced = None  # (S, B) where step t + 1 is fed the reference
    if teacher_forcing < 1.0:
        if teacher_forcing <= 0.0:
            forced = torch.zeros(steps, batch, dtype=torch.bool, device=device)
        else:
            coins = torch.rand(steps, batch, generator=generator,
                               device=generator.device if generator is not None else "cpu")
            forced = coins.to(device) < teacher_forcing
    blocked = None  # (S, L*B, T): 0 where step t may attend, -inf where it may not
    if model.has_attention:
        allowed = torch.stack([memory.allowed(mask, t) for t in range(steps)])  # (S, B, T)
        blocked = torch.zeros(allowed.shape, dtype=h0.dtype, device=device).masked_fill_(~allowed, float("-inf"))
        blocked = blocked.unsqueeze(1).expand(steps, layers, *allowed.shape[1:]).reshape(steps, layers * batch, -1)
    between = top = None  # dropout masks, scaled by 1/keep: (S, L-1, B, H) between layers, (S, B, H) on top
    if model.training and model.dropout.p > 0:
        keep = 1.0 - model.dropout.p
        draws = torch.rand(steps, layers, batch, hidden, dtype=h0.dtype, device=device)  # (cheaper than bernoulli_)
        masks = (draws < keep).to(h0.dtype).div_(keep)
        between, top = masks[:, :-1], masks[:, -1]
    plan = Plan(teacher_forcing=teacher_forcing, target=target, forced=forced, blocked=blocked, between=between,
                top=top, attention=model.has_attention, query_state=model.config.query == "state",
                scale=1.0 / math.sqrt(hidden) if model.has_attention and model.config.score == "scaled_dot" else 1.0)
    cells = [w for cell in model.decoder_cells for w in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    projection = getattr(model, "projection", None)  # query "input": q = P e + p
    return DecoderPass.apply(plan, h0.contiguous(), c0.contiguous(), values.contiguous(),
                             model.decoder_emb.weight, model.lm.weight, model.lm.bias,
                             projection.weight if projection is not None else None,
                             projection.bias if projection is not None else None, *cells)


class DecoderPass(torch.autograd.Function):
    """Every decoder step of a batch, forward and backward; `plan` holds what is not differentiated."""

    @staticmethod
    def forward(ctx, plan, h0, c0, values, emb, lm_w, lm_b, proj_w, proj_b, *cells):
        target, forced, blocked = plan.target, plan.forced, plan.blocked
        between, top_mask, attention = plan.between, plan.top, plan.attention
        L, B, H = h0.shape
        S, V = target.shape[1], lm_w.shape[0]
        w_ih, w_hh, b_ih, b_hh = cells[0::4], cells[1::4], cells[2::4], cells[3::4]
        # The g gate's columns are doubled, so that one sigmoid over all four gates leaves sigma(2a) in
        # the g slot, and tanh a = 2 sigma(2a) - 1 (on the CPU a tanh costs several sigmoids).
        table0 = torch.addmm(b_ih[0] + b_hh[0], emb, w_ih[0].t())  # (V_out, 4H): layer 0's input product per token
        w_hh0_t = w_hh[0].t().clone()  # (H, 4H)
        w_cat_t = [None] + [torch.cat([w_ih[k], w_hh[k]], 1).t() for k in range(1, L)]  # (2H, 4H): [x, h] at once
        b_cat = [None] + [b_ih[k] + b_hh[k] for k in range(1, L)]
        for doubled in (table0, w_hh0_t, *w_cat_t[1:], *b_cat[1:]):
            doubled[..., 2 * H:3 * H] *= 2
        minus_one = h0.new_full((), -1.0)
        queries = torch.addmm(proj_b, emb, proj_w.t()) if attention and not plan.query_state else None  # (V, H)
        if attention:
            T = values.shape[2]
            vals = values.reshape(L * B, T, H)  # (L*B, T, H): values, and keys once scaled
            keys = vals * plan.scale if plan.scale != 1.0 else vals

        new = h0.new_empty
        hs, cs = new(S + 1, L, B, H), new(S + 1, L, B, H)  # h and c after each step; [0] is the start
        hs[0], cs[0] = h0, c0
        sig = new(S, L, B, 4 * H)  # sigma of every gate (the g slot is not used)
        g_tanh, c_tanh = new(S, L, B, H), new(S, L, B, H)  # tanh g, tanh c'
        given = new(S, L, B, H)  # the h each cell was given: the context, or (plain EDM) its previous h
        inputs = [None] + [new(S, B, 2 * H) for _ in range(1, L)]  # [x, h] of the layers above the first
        tops = new(S, B, H)  # the top layer's output, after dropout
        weights = new(S, L, B, T) if attention else None
        q_input = new(S, B, H) if queries is not None else None
        tokens = target.new_empty(S, B)  # what each step was fed
        tokens[0] = BOS_ID
        teacher = plan.teacher_forcing >= 1.0
        if teacher:
            tokens[1:] = target[:, :-1].t()
        logits = None if teacher else new(S, B, V)
        for t in range(S):
            token = tokens[t]
            if attention:
                if queries is None:
                    q = hs[t].reshape(L * B, 1, H)  # each layer's previous h
                else:
                    q = torch.index_select(queries, 0, token, out=q_input[t]).expand(L, B, H).reshape(L * B, 1, H)
                scores = (keys * q).sum(-1).add_(blocked[t])  # (L*B, T); a multiply-and-sum beats a matvec here
                w = torch.softmax(scores.view(L, B, T), dim=-1)
                weights[t] = w
                torch.bmm(w.view(L * B, 1, T), vals, out=given[t].view(L * B, 1, H))  # the context
            else:
                given[t] = hs[t]
            x = None
            for k in range(L):
                if k == 0:
                    gates = torch.addmm(table0.index_select(0, token), given[t, 0], w_hh0_t)  # (B, 4H)
                else:
                    xin = inputs[k][t]
                    if between is not None:
                        torch.mul(x, between[t, k - 1], out=xin[:, :H])
                    else:
                        xin[:, :H] = x
                    xin[:, H:] = given[t, k]
                    gates = torch.addmm(b_cat[k], xin, w_cat_t[k])
                s = torch.sigmoid(gates, out=sig[t, k])  # the g slot holds sigma(2a)
                g = torch.add(minus_one, s[:, 2 * H:3 * H], alpha=2, out=g_tanh[t, k])  # tanh a
                c = torch.mul(s[:, H:2 * H], cs[t, k], out=cs[t + 1, k]).addcmul_(s[:, :H], g)  # f c + i g
                tc = torch.sigmoid(c * 2, out=c_tanh[t, k])
                tc = torch.add(minus_one, tc, alpha=2, out=tc)  # tanh c'
                x = torch.mul(s[:, 3 * H:], tc, out=hs[t + 1, k])  # o tanh c'
            if top_mask is not None:
                torch.mul(x, top_mask[t], out=tops[t])
            else:
                tops[t] = x
            if not teacher:
                step_logits = torch.addmm(lm_b, tops[t], lm_w.t(), out=logits[t])
                if t + 1 < S:  # the reference where the coin said so, else the model's own choice
                    tokens[t + 1] = torch.where(forced[t], target[:, t], step_logits.argmax(-1))
        if teacher:
            logits = torch.addmm(lm_b, tops.view(S * B, H), lm_w.t()).view(S, B, V)
        ctx.save_for_backward(h0, c0, values, emb, lm_w, proj_w, *cells)
        ctx.kept = Kept(hs, cs, sig, g_tanh, c_tanh, given, inputs, tops, weights, q_input, tokens)
        ctx.plan = plan
        return logits.transpose(0, 1).contiguous()  # (B, S, V)

    @staticmethod
    def backward(ctx, d_logits):
        h0, c0, values, emb, lm_w, proj_w, *cells = ctx.saved_tensors
        hs, cs, sig, g_tanh, c_tanh, given, inputs, tops, weights, q_input, tokens = ctx.kept
        plan = ctx.plan
        between, top_mask, attention, query_state = plan.between, plan.top, plan.attention, plan.query_state
        L, B, H = h0.shape
        S, V = tokens.shape[0], lm_w.shape[0]
        w_ih, w_hh = cells[0::4], cells[1::4]
        dl = d_logits.transpose(0, 1).contiguous().view(S * B, V)  # step-major, as the buffers are
        d_lm_w, d_lm_b = dl.t() @ tops.view(S * B, H), dl.sum(0)
        d_tops = (dl @ lm_w).view(S, B, H)
        if top_mask is not None:
            d_tops.mul_(top_mask)
        w_cat = [None] + [torch.cat([w_ih[k], w_hh[k]], 1) for k in range(1, L)]  # (4H, 2H)
        if attention:
            T = values.shape[2]
            vals = values.reshape(L * B, T, H)
            keys = vals * plan.scale if plan.scale != 1.0 else vals
            d_context, d_scores = h0.new_empty(S, L, B, H), h0.new_empty(S, L, B, T)
        # What multiplies dc' (the i, f, g slots) or dh' (the o slot) to give each gate's pre-activation
        # gradient, for every step at once: [g i(1-i), c f(1-f), i (1-g^2), tanh c' o(1-o)]; and
        # o (1 - tanh^2 c'), which carries dh' into dc'. The g slot of `sig` holds sigma(2a), not used here.
        i_all, f_all, o_all = sig[..., :H], sig[..., H:2 * H], sig[..., 3 * H:]  # (S, L, B, H) each
        partner = h0.new_empty(S, L, B, 4 * H)
        torch.mul(g_tanh, i_all * (1 - i_all), out=partner[..., :H])
        torch.mul(cs[:S], f_all * (1 - f_all), out=partner[..., H:2 * H])
        torch.mul(i_all, 1 - g_tanh * g_tanh, out=partner[..., 2 * H:3 * H])
        torch.mul(c_tanh, o_all * (1 - o_all), out=partner[..., 3 * H:])
        o_slope = o_all * (1 - c_tanh * c_tanh)
        d_gates = h0.new_empty(S, L, B, 4 * H)  # with respect to the pre-activations
        d_h = torch.zeros_like(h0)  # what step t + 1 sends back to each layer's h of step t (None: nothing)
        d_c = torch.zeros_like(c0)
        for t in range(S - 1, -1, -1):
            d_given = d_context[t] if attention else h0.new_empty(L, B, H)  # to the h each cell was given
            d_x = None
            for k in range(L - 1, -1, -1):
                d_out = d_tops[t] if k == L - 1 else d_x  # this layer's output feeds the next layer or the top
                if d_h is not None:
                    d_out = d_out + d_h[k]
                dc = d_c[k].addcmul_(d_out, o_slope[t, k])  # dc' += dh' o (1 - tanh^2 c')
                dg, by = d_gates[t, k], partner[t, k]
                torch.mul(by[:, :3 * H].view(B, 3, H), dc.unsqueeze(1), out=dg[:, :3 * H].view(B, 3, H))  # di df dg
                torch.mul(d_out, by[:, 3 * H:], out=dg[:, 3 * H:])  # do
                dc.mul_(f_all[t, k])  # now dc of step t - 1
                if k == 0:
                    torch.mm(dg, w_hh[0], out=d_given[0])
                else:
                    d_in = dg @ w_cat[k]  # (B, 2H): [x, h]
                    d_given[k] = d_in[:, H:]
                    d_x = d_in[:, :H] * between[t, k - 1] if between is not None else d_in[:, :H].clone()
            if attention:
                w = weights[t].view(L * B, T)
                dw = (vals * d_given.view(L * B, 1, H)).sum(-1)  # (L*B, T)
                ds = torch.mul(dw.sub_((w * dw).sum(-1, keepdim=True)), w, out=d_scores[t].view(L * B, T))  # softmax's
                d_h = torch.bmm(ds.view(L * B, 1, T), keys).view(L, B, H) if query_state else None
            else:
                d_h = d_given  # the plain EDM hands h on as it is
        d_proj_w = d_proj_b = None
        d_emb_query = 0
        d_h0 = d_h if d_h is not None else torch.zeros_like(h0)
        d_values = None
        if attention:
            # over all steps at once: dV = w^T dctx, dK = ds q^T (scaled), for each layer and sequence
            by_row = lambda a: a.permute(1, 2, 0, 3).reshape(L * B, S, -1)  # (S, L, B, X) -> (L*B, S, X)  # noqa: E731
            d_values = torch.bmm(by_row(weights).transpose(1, 2), by_row(d_context))
            if query_state:
                q = by_row(hs[:S])
            else:
                q = by_row(q_input.unsqueeze(1).expand(S, L, B, H))
            d_keys = torch.bmm(by_row(d_scores).transpose(1, 2), q)
            d_values = (d_values + d_keys * plan.scale).view(L, B, T, H)
            if not query_state:  # dq of each step, summed over layers, back to the projection through the tokens
                dq = torch.bmm(by_row(d_scores), keys).view(L, B, S, H).sum(0).transpose(0, 1).reshape(S * B, H)
                d_table = torch.zeros(emb.shape[0], H, dtype=h0.dtype, device=h0.device).index_add_(
                    0, tokens.view(-1), dq)  # (V_out, H)
                d_proj_w, d_proj_b, d_emb_query = d_table.t() @ emb, d_table.sum(0), d_table @ proj_w
        cell_grads = []
        d_table0 = torch.zeros(emb.shape[0], 4 * H, dtype=h0.dtype, device=h0.device).index_add_(
            0, tokens.view(-1), d_gates[:, 0].reshape(S * B, 4 * H))  # (V_out, 4H)
        for k in range(L):
            dg = d_gates[:, k].reshape(S * B, 4 * H)
            if k == 0:
                d_w_ih, d_w_hh, d_b = d_table0.t() @ emb, dg.t() @ given[:, 0].reshape(S * B, H), d_table0.sum(0)
            else:
                d_w = dg.t() @ inputs[k].view(S * B, 2 * H)
                d_w_ih, d_w_hh, d_b = d_w[:, :H].contiguous(), d_w[:, H:].contiguous(), dg.sum(0)  # fused Adam: dense
            cell_grads += [d_w_ih, d_w_hh, d_b, d_b.clone()]  # never one tensor twice: clipping scales in place
        d_emb = d_table0 @ w_ih[0] + d_emb_query
        d_emb[PAD_ID] = 0  # as nn.Embedding's padding_idx
        return (None, d_h0, d_c, d_values, d_emb, d_lm_w, d_lm_b, d_proj_w, d_proj_b, *cell_grads)
