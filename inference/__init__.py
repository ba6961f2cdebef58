"""The model layer: the LLaDA and Dream architectures, per-model adapters, loading and the diffusion samplers.

Importing the package registers model_types "llada" and "Dream" with transformers' Auto classes.
"""

from inference.configuration_dream import DreamConfig
from inference.configuration_llada import LLaDAConfig
from inference.modeling_dream import DreamModel
from inference.modeling_llada import LLaDAModelLM

__all__ = ["DreamConfig", "DreamModel", "LLaDAConfig", "LLaDAModelLM"]
