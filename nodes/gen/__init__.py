"""Symbolic music generation: REMI tokens (``tokens``), a small Music Transformer with
relative attention (``model``), its training loop (``train``), a Kneser-Ney n-gram baseline
(``ngram``) and the sampling API the ``gen.transformer`` node runs (``generator``)."""
