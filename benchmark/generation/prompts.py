"""Every prompt template of the benchmark, as chat messages or base-model continuations.

Each builder returns a list of `{"role", "content"}` dicts that any chat backend can
render with its own template. Wording changes must bump `PROMPT_VERSION`, which is
part of every LLM cache key.

Base models (`prompt_style: base`) get the same strategies as plain text to continue
(`base_generation_prompt`, `base_revision_prompt`): a numbered list of examples of the label in
the target language (after the English demos, when the strategy shows English ones) that ends
with the next number, so the model writes the next items of the list; the description, when the
strategy has one, is a line above the list. These are one message with the role `completion`
(`benchmark.llm.backend.COMPLETION_ROLE`), which backends send without a chat template.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from benchmark.generation.labels import readable_label
from benchmark.llm.models import is_base_model

PROMPT_VERSION = "prompts-v1"
REVISION_CHOICES = ("yes", "no")
BASE_REVISION_CHOICES = (" yes", " no")  # continuing "Answer:" in a plain-text prompt
COMPLETION_ROLE = "completion"  # = benchmark.llm.backend.COMPLETION_ROLE (no torch import here)
PromptStyle = Literal["chat", "base"]
DemoCopyRule = Literal["target", "all", "none"]

Message = dict[str, str]
Messages = list[Message]


class PromptTooLongError(ValueError):
    """A prompt does not fit the context even with every demo dropped."""


def _system(content: str) -> Message:
    return {"role": "system", "content": content}


def _user(content: str) -> Message:
    return {"role": "user", "content": content}


def _quoted(label: str) -> str:
    return f'"{readable_label(label)}"'


def _as_lines(texts: Sequence[str]) -> str:
    return "\n".join(" ".join(str(text).split()) for text in texts)


def generation_messages(
    *,
    label: str,
    language_name: str,
    n: int,
    description: str | None = None,
    demos: Sequence[str] = (),
    demo_language_name: str | None = None,
    demo_copy_rule: DemoCopyRule = "target",
) -> Messages:
    """Ask for `n` new examples of one class in one language.

    Args:
        label: the class name (underscores are shown as spaces).
        language_name: English name of the language to write in.
        n: how many examples to ask for.
        description: what the class means, if the strategy uses a description.
        demos: example texts of the class to show (may be empty).
        demo_language_name: the demos' language; defaults to `language_name`.
        demo_copy_rule: which demo prompts add "do not copy (or translate) the examples
            above": "target" (default) only same-language demos, as the study's English-demo
            prompt has no such rule; "all" also English demos ("do not copy or translate");
            "none" never (the study's generation prompt says only "do not repeat the
            instruction").

    Returns:
        System and user messages.
    """
    name = _quoted(label)
    system = (
        f"You write representative examples of the class {name} in {language_name} "
        "for a text classification dataset."
    )
    parts = [f"Write {n} new, varied examples of the class {name} in {language_name}."]
    if description:
        parts.append(f"The class {name} means: {' '.join(description.split())}")
    demo_language = demo_language_name or language_name
    if demos:
        parts.append(f"Here are examples of this class in {demo_language}:\n{_as_lines(demos)}")
    foreign = demo_language != language_name
    copy_rule = bool(demos) and (
        demo_copy_rule == "all" or (demo_copy_rule == "target" and not foreign)
    )
    rules = [
        f"Write every example in {language_name}.",
        "Put one example on each line, with no numbering, bullets, quotes or labels.",
        f"Every example must belong to the class {name}; write nothing that does not.",
        "Do not repeat these instructions"
        + (" and do not copy" if copy_rule else "")
        + (" or translate" if copy_rule and foreign else "")
        + (" the examples above" if copy_rule else "")
        + f"; reply with the {n} examples only.",
    ]
    parts.append("Rules:\n" + "\n".join(f"- {rule}" for rule in rules))
    return [_system(system), _user("\n\n".join(parts))]


@dataclass(frozen=True)
class BasePrompt:
    """A plain-text prompt for a base model and the strings that end its continuation."""

    messages: Messages
    stop: tuple[str, ...]


def _completion(text: str) -> Messages:
    return [{"role": COMPLETION_ROLE, "content": text}]


def _numbered(texts: Sequence[str], start: int = 1) -> str:
    return "\n".join(f"{i}. {' '.join(str(t).split())}" for i, t in enumerate(texts, start))


def base_generation_prompt(
    *,
    label: str,
    language_name: str,
    n: int,
    description: str | None = None,
    demos: Sequence[str] = (),
    demo_language_name: str | None = None,
) -> BasePrompt:
    """A strategy as few-shot list continuation for a base model.

    The text is a header, the description line (if any), the demos as a numbered list (English
    demos under their own header, then an empty target-language list) and the next number; the
    model continues the list. It stops at the blank line that ends a list or at the number after
    the `n`-th new item.

    Args:
        label: the class name (underscores are shown as spaces).
        language_name: English name of the language to write in.
        n: new items wanted (the continuation stops after them).
        description: what the class means, if the strategy uses a description.
        demos: example texts of the class (may be empty).
        demo_language_name: the demos' language; defaults to `language_name`.

    Returns:
        The prompt and its stop strings.
    """
    name = _quoted(label)
    demo_language = demo_language_name or language_name
    lines = []
    if description:
        lines.append(f"The class {name} means: {' '.join(description.split())}\n")
    target_header = f"Examples of the class {name}, written in {language_name}:"
    shown = list(demos)
    if shown and demo_language != language_name:
        header = f"Examples of the class {name}, written in {demo_language}:"
        lines += [header, _numbered(shown), "", target_header]
        shown = []
    else:
        lines.append(target_header)
    if shown:
        lines.append(_numbered(shown))
    first = len(shown) + 1
    text = "\n".join(lines) + f"\n{first}."
    return BasePrompt(_completion(text), ("\n\n", f"\n{first + n}."))


def base_revision_prompt(
    *, text: str, label: str, description: str | None, language_name: str
) -> Messages:
    """The revision question as plain text for a base model; score `BASE_REVISION_CHOICES`.

    Args:
        text: the generated sample.
        label: its intended class.
        description: what the class means, if known.
        language_name: the language the sample should be in.

    Returns:
        One `completion` message ending with "Answer:".
    """
    question = _revision_question(text, label, description, language_name, closed=False)
    return _completion(f"{question} Answer yes or no.\nAnswer:")


def revision_prompt(
    style: PromptStyle, *, text: str, label: str, description: str | None, language_name: str
) -> tuple[Messages, tuple[str, str]]:
    """The revision check in a prompt style, with its (yes, no) choices.

    Args:
        style: "chat" or "base".
        text: the generated sample.
        label: its intended class.
        description: what the class means, if known.
        language_name: the language the sample should be in.

    Returns:
        The messages and the choices to score, "yes" first.
    """
    fields = {
        "text": text,
        "label": label,
        "description": description,
        "language_name": language_name,
    }
    if style == "base":
        return base_revision_prompt(**fields), BASE_REVISION_CHOICES
    return revision_messages(**fields), REVISION_CHOICES


def revision_messages(
    *, text: str, label: str, description: str | None, language_name: str
) -> Messages:
    """Ask for a closed yes/no verdict on one generated sample.

    The backend picks the answer by comparing the log-probabilities of
    `REVISION_CHOICES`, so the prompt ends by asking for exactly one word.

    Args:
        text: the generated sample.
        label: its intended class.
        description: what the class means, if known.
        language_name: the language the sample should be in.

    Returns:
        System and user messages.
    """
    return [
        _system(_revision_system(language_name)),
        _user(_revision_question(text, label, description, language_name)),
    ]


def revision_reason_messages(
    *,
    text: str,
    label: str,
    description: str | None,
    language_name: str,
    verdict: str | None = None,
) -> Messages:
    """Ask for a one-sentence reason behind a revision verdict.

    Args:
        text: the generated sample.
        label: its intended class.
        description: what the class means, if known.
        language_name: the language the sample should be in.
        verdict: the yes/no answer already chosen; when given, it is replayed as the
            assistant's turn and the reason is asked for as a follow-up.

    Returns:
        Chat messages ending with a user turn.
    """
    if verdict is not None:
        follow_up = _user("In one sentence, give the main reason for your answer.")
        return [
            *revision_messages(
                text=text, label=label, description=description, language_name=language_name
            ),
            {"role": "assistant", "content": verdict},
            follow_up,
        ]
    question = _revision_question(text, label, description, language_name, closed=False)
    instruction = "Answer yes or no, then give the main reason in one sentence."
    return [_system(_revision_system(language_name)), _user(f"{question}\n{instruction}")]


def _revision_system(language_name: str) -> str:
    return f"You review examples in a {language_name} text classification dataset."


def _revision_question(
    text: str, label: str, description: str | None, language_name: str, *, closed: bool = True
) -> str:
    name = _quoted(label)
    meaning = f" (meaning: {' '.join(description.split())})" if description else ""
    lines = [
        f"Class: {name}{meaning}",
        f"Text: {' '.join(str(text).split())}",
        "",
        f"Is this text a good, complete and natural example of the class {name}, "
        f"written in {language_name}?",
    ]
    if closed:
        lines.append("Answer with exactly one word: yes or no.")
    return "\n".join(lines)


def description_messages(*, label: str, examples: Sequence[str], dataset_name: str) -> Messages:
    """Ask for a short description of a label, summarised from gold examples.

    Args:
        label: the class name.
        examples: k gold examples of the class.
        dataset_name: the dataset's name, for context.

    Returns:
        System and user messages.
    """
    name = _quoted(label)
    user = (
        f"These texts from the {dataset_name} dataset all belong to the class {name}:\n"
        f"{_as_lines(examples)}\n\n"
        f"Describe in one short paragraph what texts of the class {name} are about, so that "
        "someone could write new examples of it without seeing these. "
        "Reply with the description only."
    )
    return [_system("You describe the classes of text classification datasets."), _user(user)]


def translation_messages(
    *, text: str, source_language_name: str, target_language_name: str
) -> Messages:
    """Ask for a translation (of a demo, or back into the source for back-translation).

    Args:
        text: the text to translate.
        source_language_name: its language.
        target_language_name: the language to translate into.

    Returns:
        System and user messages.
    """
    user = (
        f"Translate this {source_language_name} text into {target_language_name}, keeping its "
        f"meaning, tone and register. Reply with the translation only.\n\n{text}"
    )
    return [_system("You are a careful professional translator."), _user(user)]


def paraphrase_messages(*, text: str, language_name: str) -> Messages:
    """Ask for a paraphrase in the same language.

    Args:
        text: the text to paraphrase.
        language_name: its language (the paraphrase stays in it).

    Returns:
        System and user messages.
    """
    user = (
        f"Rewrite this {language_name} text so that it says the same thing in different words. "
        f"Keep it in {language_name}, keep its meaning and keep it about as long. "
        f"Reply with the rewritten text only.\n\n{text}"
    )
    return [_system(f"You are a fluent writer of {language_name}."), _user(user)]


def annotation_messages(
    *,
    text: str,
    labels: Sequence[str],
    demos: Sequence[tuple[str, str]],
    language_name: str,
) -> Messages:
    """Ask which of `labels` a text belongs to, with labelled demonstrations.

    The backend picks the answer by comparing the log-probabilities of the labels, so
    the labels are shown (and should be scored) exactly as given.

    Args:
        text: the text to classify.
        labels: the candidate classes.
        demos: `(text, label)` demonstrations.
        language_name: the texts' language.

    Returns:
        System and user messages.
    """
    classes = ", ".join(labels)
    system = f"You classify {language_name} texts into exactly one of these classes: {classes}."
    parts = []
    if demos:
        shown = "\n\n".join(f"Text: {' '.join(t.split())}\nClass: {lab}" for t, lab in demos)
        parts.append(f"Labelled examples:\n\n{shown}")
    parts.append(f"Text: {' '.join(str(text).split())}")
    parts.append(f"Which class does this text belong to? Answer with one of: {classes}.")
    return [_system(system), _user("\n\n".join(parts))]


def fit_demos_to_context(
    build: Callable[[Sequence[str]], Messages],
    demos: Sequence[str],
    count_tokens: Callable[[Messages], int],
    *,
    max_prompt_tokens: int,
) -> tuple[Messages, int]:
    """Drop demos one at a time, from the end, until the prompt fits.

    Args:
        build: makes the messages from a list of demos.
        demos: the demos, most important first.
        count_tokens: the backend's token count of rendered messages.
        max_prompt_tokens: the largest prompt allowed (context length minus the
            tokens reserved for the answer).

    Returns:
        The messages that fit and how many demos they use.

    Raises:
        PromptTooLongError: the prompt is too long even without demos.
    """
    kept = list(demos)
    while True:
        messages = build(kept)
        n_tokens = count_tokens(messages)
        if n_tokens <= max_prompt_tokens:
            return messages, len(kept)
        if not kept:
            raise PromptTooLongError(
                f"prompt needs {n_tokens} tokens without any demo; the limit is {max_prompt_tokens}"
            )
        kept.pop()


def resolve_prompt_style(option: str, model: str, backend) -> PromptStyle:
    """The prompt style a case uses with a model: `chat`, `base`, or for `auto` base when the
    model is declared a base model (`ModelAlias.base`) or its tokenizer has no chat template.

    Args:
        option: `generation.prompt_style` ("auto", "chat" or "base").
        model: the model reference.
        backend: its backend (a `CachedBackend` or a backend with a `tokenizer`).

    Returns:
        "chat" or "base".
    """
    if option in ("chat", "base"):
        return option  # type: ignore[return-value]

    if is_base_model(model):
        return "base"
    inner = getattr(backend, "backend", backend)
    tokenizer = getattr(inner, "tokenizer", None)
    if tokenizer is not None and not getattr(tokenizer, "chat_template", None):
        return "base"
    return "chat"
