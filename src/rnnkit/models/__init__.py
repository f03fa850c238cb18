"""Task models, each with a ``...Config`` dataclass saved in checkpoints."""

from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.models.conditioned_lm import ConditionedLM, ConditionedLMConfig
from rnnkit.models.forecaster import ForecastNet, ForecastNetConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.lm_classifier import LMClassifier, LMClassifierConfig
from rnnkit.models.music_model import PolyphonicModel, PolyphonicModelConfig
from rnnkit.models.recognizer import CTCRecognizer, CTCRecognizerConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig

#: name -> (model class, config class): how a checkpoint's "model" entry is rebuilt.
MODELS = {
    "LanguageModel": (LanguageModel, LanguageModelConfig),
    "ConditionedLM": (ConditionedLM, ConditionedLMConfig),
    "SequenceClassifier": (SequenceClassifier, SequenceClassifierConfig),
    "LMClassifier": (LMClassifier, LMClassifierConfig),
    "SequenceTagger": (SequenceTagger, SequenceTaggerConfig),
    "ForecastNet": (ForecastNet, ForecastNetConfig),
    "PolyphonicModel": (PolyphonicModel, PolyphonicModelConfig),
    "Seq2Seq": (Seq2Seq, Seq2SeqConfig),
    "CTCRecognizer": (CTCRecognizer, CTCRecognizerConfig),
}

__all__ = ["LanguageModel", "LanguageModelConfig", "SequenceClassifier", "SequenceClassifierConfig",
           "LMClassifier", "LMClassifierConfig",
           "SequenceTagger", "SequenceTaggerConfig", "ForecastNet", "ForecastNetConfig",
           "PolyphonicModel", "PolyphonicModelConfig", "ConditionedLM", "ConditionedLMConfig", "Seq2Seq",
           "Seq2SeqConfig", "CTCRecognizer", "CTCRecognizerConfig", "MODELS"]
