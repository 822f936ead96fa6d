"""The model that answers a case's chat-only prompts."""

from __future__ import annotations

from benchmark.case.spec import GenerationOptions
from benchmark.generation.prompts import resolve_prompt_style
from benchmark.llm.cache import CachedBackend
from benchmark.llm.factory import BackendFactory


def chat_model(
    generation: GenerationOptions, model: str, backends: BackendFactory
) -> tuple[str, CachedBackend]:
    """The model that answers a case's chat-only prompts (demo translation, paraphrase,
    back-translation): the case's model, as in the study; when that is a base model, which
    cannot follow an instruction, the revision model, else the description model.

    Raises:
        ValueError: no candidate model chats.
    """
    candidates = (model, generation.revision_model, generation.description_model)
    for i, candidate in enumerate(candidates):
        if not candidate:
            continue
        backend = backends(generation, candidate)
        option = generation.prompt_style if i == 0 else "auto"
        if resolve_prompt_style(option, candidate, backend) == "chat":
            return candidate, backend
    raise ValueError(
        f"{model} is a base model and cannot follow the translation or paraphrase instruction; "
        "set generation.revision_model or generation.description_model to an instruct (chat) model"
    )
