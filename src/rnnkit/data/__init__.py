"""Raw files to tensors: vocabularies, text corpora and stream batching."""

from rnnkit.data.corpus import Corpus, load_corpus
from rnnkit.data.streams import StreamBatches
from rnnkit.data.text import encode_text, read_text
from rnnkit.data.vocab import EOS, UNK, Vocab

__all__ = ["Vocab", "EOS", "UNK", "Corpus", "load_corpus", "StreamBatches", "read_text", "encode_text"]
