"""Plain-text and Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_table", "front_table"]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *,
                 markdown: bool = False) -> str:
    """Align ``rows`` under ``headers``; floats get 4 significant digits."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    def line(values: Sequence[str]) -> str:
        parts = [v.ljust(w) for v, w in zip(values, widths, strict=True)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()
    out = [line(list(headers))]
    out.append(("|" + "|".join("-" * (w + 2) for w in widths) + "|") if markdown
               else "  ".join("-" * w for w in widths))
    out += [line(r) for r in cells]
    return "\n".join(out)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def front_table(points: Sequence[object], *, markdown: bool = False) -> str:
    """The points of a front: weight, objectives, accuracy, sparsity."""
    headers = ["method", "lam", "epochs", "f1 (val CE)", "f2", "val acc", "test acc",
               "kept", "zeros/scope", "FLOPs"]
    rows = [[p.method, p.lam, p.epochs, p.f1, p.f2, p.val_acc,  # type: ignore[attr-defined]
             p.test_acc, f"{p.kept:.2%}", f"{p.zeros}/{p.scope_size}",  # type: ignore[attr-defined]
             None if p.flops_share is None else f"{p.flops_share:.2%}"]  # type: ignore[attr-defined]
            for p in points]
    return format_table(headers, rows, markdown=markdown)
