"""What each quality gate drops: real gold dev sentences (false drops) vs generated samples.

(a) every gold dev sentence of every language and dataset (MASSIVE, SIB-200): the share each
    gate drops should be small (it is the false-drop rate); `language` is split into its two
    checks (py3langid rank, lexical share of the gold train vocabulary); the English dev
    sentences checked as if they were the target language show what the gate catches;
(b) the `kept` rows of the committed generated sets (`leaderboard/results/*/generated.jsonl`):
    the share each gate would have dropped, per dataset x language, over distinct samples
    (cases that share the response cache, such as selection pools, repeat the same rows).

    python measure/gate_rates.py [--results leaderboard/results] [--data-dir shared/data]

Prints markdown tables. Only train splits build the vocabularies; dev is only measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.data.languages import LANGUAGES, resolve_language  # noqa: E402
from benchmark.data.loaders import load_split  # noqa: E402
from benchmark.generation.gates import (  # noqa: E402
    ChatterGate,
    LanguageGate,
    gate_spec,
    train_vocabulary,
)

DATASETS = ("massive60", "sib200")


def checks(code: str, data_dir) -> dict:
    """Named checks for one target language: each maps a text to True when it is dropped."""
    lang = resolve_language(code)
    opts = gate_spec("language")["language"]
    vocab = train_vocabulary(code, data_dir=data_dir)
    lang_gate = LanguageGate(
        lang,
        vocab,
        max_rank=opts["max_rank"],
        min_lexical_share=opts["min_lexical_share"],
        reject_first=opts["reject_first"],
    )
    lid_only = LanguageGate(
        lang,
        vocab,
        max_rank=opts["max_rank"],
        min_lexical_share=0.0,
        reject_first=opts["reject_first"],
    )
    top1 = LanguageGate(lang, vocab, max_rank=1, min_lexical_share=0.0)
    chatter = ChatterGate(lang)

    def lexical(text: str) -> bool:
        share = vocab.share(text)
        return share is None or share < opts["min_lexical_share"]

    return {
        "langid top1": lambda t: not top1.check(t).keep,
        f"langid top{opts['max_rank']}, not en first": lambda t: not lid_only.check(t).keep,
        "lexical": lexical,
        "language": lambda t: not lang_gate.check(t).keep,
        "chatter": lambda t: not chatter.check(t).keep,
        "language+chatter": lambda t: not lang_gate.check(t).keep or not chatter.check(t).keep,
    }


def rate_row(name: str, texts: list[str], named: dict) -> str:
    cells = [
        f"{100 * sum(map(fn, texts)) / len(texts):.1f}" if texts else "-" for fn in named.values()
    ]
    return f"| {name} | {len(texts)} | " + " | ".join(cells) + " |"


def header(first: str, named: dict) -> str:
    names = list(named)
    return f"| {first} | n | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 2)


def gold_table(data_dir) -> None:
    print("## (a) gold dev sentences: % dropped (false drops; `en as X`: English dev as X)\n")
    english = {
        ds: [e.text for e in load_split(ds, "en", "dev", data_dir=data_dir).examples]
        for ds in DATASETS
    }
    first = True
    for code in LANGUAGES:
        named = checks(code, data_dir)
        if first:
            print(header("language / dataset", named))
            first = False
        for ds in DATASETS:
            dev = [e.text for e in load_split(ds, code, "dev", data_dir=data_dir).examples]
            print(rate_row(f"{code} {ds}", dev, named))
            if code != "en":
                print(rate_row(f"en as {code} {ds}", english[ds], named))
    print()


def generated_table(results: Path, data_dir) -> None:
    print("## (b) kept rows of the committed generated sets: % a gate would drop\n")
    groups: dict[tuple[str, str], dict[tuple[str, str], None]] = defaultdict(dict)
    rows_read = 0
    for path in sorted(results.glob("*/generated.jsonl")):
        dataset, language = path.parent.name.split("-")[:2]
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["status"] == "kept":
                rows_read += 1
                groups[(dataset, language)][(row["text"], row["label"])] = None
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    first = True
    for (dataset, language), rows in sorted(groups.items()):
        named = checks(language, data_dir)
        if first:
            print(header("dataset / language", named))
            first = False
        texts = [t for t, _ in rows]
        print(rate_row(f"{dataset} {language}", texts, named))
        for name, fn in named.items():
            total[name][0] += sum(map(fn, texts))
            total[name][1] += len(texts)
    n = next(iter(total.values()))[1] if total else 0
    cells = " | ".join(f"{100 * d / max(t, 1):.1f}" for d, t in total.values())
    print(f"| all | {n} | {cells} |\n")
    print(f"{rows_read} kept rows, {n} distinct (text, label) per dataset x language\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("leaderboard/results"))
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    gold_table(args.data_dir)
    generated_table(args.results, args.data_dir)


if __name__ == "__main__":
    main()
