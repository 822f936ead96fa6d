"""Benchmark suite for LLM-generated training data in low-resource languages."""
