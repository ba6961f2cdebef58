"""The model layer: the LLaDA architecture, per-model adapters, loading and the diffusion sampler.

Importing the package registers model_type "llada" with transformers' Auto classes.
"""

from inference.configuration_llada import LLaDAConfig
from inference.modeling_llada import LLaDAModelLM

__all__ = ["LLaDAConfig", "LLaDAModelLM"]
