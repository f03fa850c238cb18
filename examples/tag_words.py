"""Part-of-speech tagging (synced many-to-many) with a word + character BiLSTM.

Run: .venv/bin/python examples/tag_words.py [train.conllu test.conllu]
Without arguments it uses UD English EWT under ../shared/data (a 2,000-sentence slice and
one epoch, to finish in about a minute); the full run is `rnnkit tag train` or
benchmarks/bench_text.py pos.
"""

import sys
from pathlib import Path

from rnnkit import RNNTagger
from rnnkit.data.conll import read_conll

ewt = Path("../shared/data/ud-english-ewt")
train_path, test_path = (sys.argv[1:3] if len(sys.argv) == 3
                         else (ewt / "en_ewt-ud-train.conllu", ewt / "en_ewt-ud-test.conllu"))
X_train, y_train = read_conll(train_path, "upos")
X_test, y_test = read_conll(test_path, "upos")
tagger = RNNTagger(epochs=1, verbose=True).fit(X_train[:2000], y_train[:2000])
print("test token accuracy:", round(tagger.score(X_test, y_test), 4))
print(list(zip("The quick brown fox jumped over Zorblax .".split(),
               tagger.predict(["The quick brown fox jumped over Zorblax .".split()])[0])))
