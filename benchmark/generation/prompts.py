"""Every prompt template of the benchmark, as chat messages.

Each builder returns a list of `{"role", "content"}` dicts that any chat backend can
render with its own template. Wording changes must bump `PROMPT_VERSION`, which is
part of every LLM cache key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from benchmark.generation.labels import readable_label

PROMPT_VERSION = "prompts-v1"
REVISION_CHOICES = ("yes", "no")

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
) -> Messages:
    """Ask for `n` new examples of one class in one language.

    Args:
        label: the class name (underscores are shown as spaces).
        language_name: English name of the language to write in.
        n: how many examples to ask for.
        description: what the class means, if the strategy uses a description.
        demos: example texts of the class to show (may be empty).
        demo_language_name: the demos' language; defaults to `language_name`.

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
    rules = [
        f"Write every example in {language_name}.",
        "Put one example on each line, with no numbering, bullets, quotes or labels.",
        f"Every example must belong to the class {name}; write nothing that does not.",
        "Do not repeat these instructions"
        + (" and do not copy" if demos else "")
        + (" or translate" if demos and demo_language != language_name else "")
        + (" the examples above" if demos else "")
        + f"; reply with the {n} examples only.",
    ]
    parts.append("Rules:\n" + "\n".join(f"- {rule}" for rule in rules))
    return [_system(system), _user("\n\n".join(parts))]


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
