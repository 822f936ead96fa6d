"""The generation request of each (label, attempt): the strategy's prompt with as many demos as
the model's context holds, seeded by (seed, language, label, attempt)."""

from __future__ import annotations

from benchmark.case.spec import CaseSpec
from benchmark.generation.candidates import request_seed
from benchmark.generation.inputs import GenerationInputs
from benchmark.generation.prompts import (
    base_generation_prompt,
    fit_demos_to_context,
    generation_messages,
)
from benchmark.llm.backend import ChatRequest, SamplingParams
from benchmark.strategies import GenerationStrategy


class PromptBuilder:
    """Builds a set's generation prompts and requests; remembers the demos each label's prompt
    holds (`demos_used`).

    Args:
        style: "chat" or "base" (a base model gets a completion prompt with stop strings).
        language_name: the case language's name.
        seed: the generation seed.
    """

    def __init__(
        self,
        spec: CaseSpec,
        strategy: GenerationStrategy,
        inputs: GenerationInputs,
        backend,
        *,
        style: str,
        language_name: str,
        seed: int,
    ) -> None:
        self.spec, self.strategy, self.inputs, self.backend = spec, strategy, inputs, backend
        self.gen = spec.generation
        self.style, self.language_name, self.seed = style, language_name, seed
        self.stop: tuple[str, ...] = ()
        self.demos_used: dict[str, int] = {}

    def messages(self, label: str):
        """The label's generation prompt, its demos cut to what the context holds."""
        demos = self.inputs.demos[label]
        demo_language = None
        if demos:
            demo_language = "English" if self.strategy.demos == "english" else self.language_name

        def build(shown):
            fields = {
                "label": label,
                "language_name": self.language_name,
                "n": self.gen.per_request,
                "description": self.inputs.descriptions[label],
                "demos": shown,
                "demo_language_name": demo_language,
            }
            if self.style == "base":
                prompt = base_generation_prompt(**fields)
                self.stop = prompt.stop
                return prompt.messages
            return generation_messages(**fields, demo_copy_rule=self.gen.demo_copy_rule)

        budget = self.backend.max_model_len - self.gen.max_new_tokens
        messages, used = fit_demos_to_context(
            build, demos, self.backend.count_tokens, max_prompt_tokens=budget
        )
        self.demos_used[label] = used
        return messages

    def request(self, label: str, messages, attempt: int) -> ChatRequest:
        """The request of the label's `attempt`-th prompt."""
        sampling = SamplingParams(
            temperature=self.gen.temperature,
            top_p=self.gen.top_p,
            repetition_penalty=self.gen.repetition_penalty,
            max_new_tokens=self.gen.max_new_tokens,
            seed=request_seed(self.seed, self.spec.language, label, attempt),
            stop=self.stop if self.style == "base" else (),
            dry_multiplier=self.gen.dry_multiplier,
        )
        return ChatRequest(messages, sampling)
