"""The bag-of-words baseline a text classifier must beat.

TF-IDF over word unigrams and bigrams (sublinear term frequency), then a multinomial
logistic regression whose inverse regularisation ``C`` is chosen by 5-fold cross-validation
on the training texts alone (0.1, 1, 10 or 100; on a stratified random 50,000 of them when
there are more). This is the linear model that
text-classification papers report beside their networks (e.g. SST-2 bag-of-words ~80 %,
IMDb unigram+bigram ~89-91 %): a recurrent model trained from scratch on a few thousand
sentences often does not beat it, and should say so.
Needs scikit-learn (the ``baselines`` extra).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError

NAME = "TF-IDF (word 1-2 grams) + logistic regression"
#: texts the cross-validation that chooses C reads at most (a random stratified subset beyond;
#: the final model still fits every training text), so a large corpus costs one fit, not 21
MAX_CV_TEXTS = 50_000


def bag_of_words_baseline(train_texts: Sequence[str], train_labels: Sequence[Any], test_texts: Sequence[str],
                          test_labels: Sequence[Any], seed: int = 0) -> dict[str, Any]:
    """Fit on the training texts, score on the test texts: ``{"name", "accuracy", "C",
    "features", "seconds", "n"}``. Test examples whose label never occurs in training count
    as errors (the baseline cannot name them), as they do for the network."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_score
    except ImportError:
        raise ConfigError("the bag-of-words baseline needs scikit-learn: pip install 'rnnkit[baselines]'") from None
    t0 = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True,
                                 token_pattern=r"(?u)\b\w+\b|[^\w\s]")
    x_train = vectorizer.fit_transform(list(train_texts))
    y_train = np.asarray([str(v) for v in train_labels])
    counts = np.unique(y_train, return_counts=True)[1]
    folds = int(min(5, counts.min())) if len(counts) > 1 else 0
    if folds < 2:
        raise ConfigError("the bag-of-words baseline needs at least two examples of each class")
    # the features of each fold come from all training texts (document frequencies only; no labels)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    x_cv, y_cv = x_train, y_train
    if len(y_train) > MAX_CV_TEXTS:
        from sklearn.model_selection import train_test_split

        x_cv, _, y_cv, _ = train_test_split(x_train, y_train, train_size=MAX_CV_TEXTS, stratify=y_train,
                                            random_state=seed)
    scores = {c: cross_val_score(LogisticRegression(C=c, max_iter=2000), x_cv, y_cv, cv=cv).mean()
              for c in (0.1, 1.0, 10.0, 100.0)}
    best_c = max(scores, key=lambda c: scores[c])
    model = LogisticRegression(C=best_c, max_iter=2000).fit(x_train, y_train)
    pred = model.predict(vectorizer.transform(list(test_texts)))
    y_test = np.asarray([str(v) for v in test_labels])
    return {"name": NAME, "accuracy": float(np.mean(pred == y_test)), "C": best_c,
            "features": int(x_train.shape[1]), "n": int(len(y_test)), "seconds": round(time.perf_counter() - t0, 2)}


__all__ = ["bag_of_words_baseline", "NAME"]
