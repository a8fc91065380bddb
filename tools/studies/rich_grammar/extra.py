"""Extra run: a model *trained* (and evaluated) with every encoder self-attention head removed.

study.py's ablation removes the heads of a model trained with them; this asks whether a model
that never had encoder self-attention can learn the rich grammar anyway. The heads are
removed with the book's ``experiments.heads.ablated`` for the whole run (training and every
measurement), so the study's "enc-self ablated" numbers equal its normal ones here.

Usage: python extra.py --tag f0 --seed 0 --heads 4 --steps 1200   (same options as study.py)
"""

from __future__ import annotations

import contextlib

import study

from minitransformer.experiments.heads import ablated

_STACK = contextlib.ExitStack()  # never closed: the hooks stay for the rest of the process
_train = study.train


def train_without_encoder_self_attention(model, data, **options):
    _STACK.enter_context(ablated(model, study.all_heads(model, "encoder self")))
    return _train(model, data, **options)


study.train = train_without_encoder_self_attention

if __name__ == "__main__":
    study.main()
