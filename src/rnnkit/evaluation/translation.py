"""Translation quality with sacrebleu (Post 2018): corpus BLEU and chrF on detokenised text.

sacrebleu tokenises hypotheses and references itself (its ``13a`` tokeniser), so scores
are comparable across systems whatever tokenisation the model used. It is the optional
``translate`` extra; without it the error says how to install it.
"""

from __future__ import annotations

from rnnkit.errors import ConfigError


def corpus_scores(hypotheses: list[str], references: list[str], lowercase: bool = False) -> dict:
    """``{"bleu", "chrf", "bleu_signature", "sentences"}`` for aligned ``hypotheses`` and ``references``."""
    try:
        import sacrebleu
    except ImportError:
        raise ConfigError("BLEU and chrF need sacrebleu: pip install 'rnnkit[translate]'") from None
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    bleu = sacrebleu.metrics.BLEU(lowercase=lowercase)
    chrf = sacrebleu.metrics.CHRF(lowercase=lowercase)
    b = bleu.corpus_score(hypotheses, [references])
    c = chrf.corpus_score(hypotheses, [references])
    return {"bleu": b.score, "chrf": c.score, "bleu_signature": str(bleu.get_signature()),
            "sentences": len(hypotheses)}
