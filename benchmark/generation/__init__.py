"""Generation stage: prompt templates, output parsing and label descriptions.

Import from the submodules (`benchmark.generation.parse`, `.prompts`, `.labels`);
nothing heavy is imported here.
"""
