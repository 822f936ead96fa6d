"""Every strategy, and every selector, against the others: one ranked matrix of paired
differences per cell (the leaderboard's last folded section)."""

from __future__ import annotations

from benchmark.case.records import Record
from benchmark.report.answer_context import AnswerContext, f1, f1_text, signed, table_lines
from benchmark.report.rows import off_language
from benchmark.report.significance import holm


def pairwise(ctx: AnswerContext) -> list[str]:
    """Per cell: one matrix over the plain strategies and one over each strategy's selectors
    with its unselected set; each ranked by macro-F1, a cell holds row minus column."""
    out: list[str] = []
    for key in sorted(ctx.generated):
        rows = ctx.generated[key]
        plain = {k[0]: r for k, r in rows.items() if k[1:] == (None,) * 3}
        groups = [("strategy", "strategy", plain)]
        for name, base in sorted(plain.items()):
            chosen = {k[1]: r for k, r in rows.items() if k[0] == name and k[1] and not any(k[2:])}
            if chosen:
                groups.append(("selector", f"selector on {name}", {"unselected": base, **chosen}))
        for column, title, members in groups:
            if len(members) > 1:
                out += matrix(ctx, key, column, title, members)
    return out


def matrix(
    ctx: AnswerContext, key: tuple, column: str, title: str, members: dict[str, Record]
) -> list[str]:
    """One cell's matrix: members ranked by macro-F1, each against matched gold and against
    every member below it (Holm over the matrix)."""
    ranked = sorted(members.items(), key=lambda item: f1(item[1]), reverse=True)
    dataset, language, model, n, _ = key
    pairs = [(i, j) for i in range(len(ranked)) for j in range(i + 1, len(ranked))]
    tested = holm(
        [ctx.matched(r) for _, r in ranked]
        + [ctx.compare(ranked[i][1], ranked[j][1]) for i, j in pairs]
    )
    versus = dict(zip(pairs, tested[len(ranked) :], strict=True))
    rows = []
    for i, (name, record) in enumerate(ranked):
        flag = off_language(record)
        row = [
            str(i + 1),
            name + (f" ({flag})" if flag else ""),
            f1_text(record),
            signed(tested[i], record.matched_gap),
        ]
        for j, (_, other) in enumerate(ranked):
            row.append("" if j <= i else signed(versus[(i, j)], f1(record) - f1(other)))
        rows.append(row)
    numbers = [str(j + 1) for j in range(len(ranked))]
    head = f"{dataset} {language} ({model}, n={n}), by {title}:"
    return [
        head,
        "",
        *table_lines(["#", column, "macro-F1", "vs matched gold", *numbers], rows),
        "",
    ]
