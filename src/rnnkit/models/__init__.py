"""Task models, each with a ``...Config`` dataclass saved in checkpoints."""

from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

#: name -> (model class, config class): how a checkpoint's "model" entry is rebuilt.
MODELS = {"LanguageModel": (LanguageModel, LanguageModelConfig)}

__all__ = ["LanguageModel", "LanguageModelConfig", "MODELS"]
