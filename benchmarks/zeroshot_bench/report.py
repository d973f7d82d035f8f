"""Rows of the report: speed, speed-ups, share of peak, agreement with a reference, and the
Markdown tables that print them."""

from typing import Any, Dict, List, Optional

from .peaks import peak_rss_mb

Cats = List[Dict[str, float]]

COLUMNS = (
    "| mode | pairs/s | x per-doc (a) | x batched (b) | useful GFLOP/s | peak GFLOP/s | % of peak | peak RSS MB "
    "| top-1 agree | agree, gap >= 0.01 | max abs diff | mean abs diff | re-checked |"
)


def top_label(cats: Dict[str, float]) -> str:
    return max(cats, key=lambda k: cats[k])


def compare(cats: Cats, reference: Cats, margin: float = 0.01) -> Dict[str, Any]:
    """Top-label agreement (all docs, and docs whose reference top-2 gap is >= `margin`: near
    ties flip under any rounding) and absolute score differences."""
    same = [top_label(a) == top_label(b) for a, b in zip(cats, reference)]
    decisive = [s for s, ref in zip(same, reference) if _gap(ref) >= margin]
    diffs = [abs(a[k] - b[k]) for a, b in zip(cats, reference) for k in a]
    return {
        "agree": sum(same) / max(1, len(same)),
        "decisive": f"{sum(decisive) / len(decisive):.1%} of {len(decisive)}" if decisive else "- of 0",
        "max_diff": max(diffs, default=0.0),
        "mean_diff": sum(diffs) / max(1, len(diffs)),
    }


def _gap(cats: Dict[str, float]) -> float:
    top = sorted(cats.values(), reverse=True)
    return top[0] - top[1] if len(top) > 1 else 1.0


class Rows:
    """The rows of one table over one workload (`n_pairs` pairs needing `flops` useful FLOPs).

    Speed-ups are over the times in `baselines` ("a": the per-doc pipeline, "b": the batched
    one) once they are set; agreement is against `reference` once it is set.
    """

    def __init__(self, n_pairs: int, flops: float) -> None:
        self.n_pairs, self.flops = n_pairs, flops
        self.rows: List[Dict[str, Any]] = []
        self.baselines: Dict[str, float] = {}
        self.reference: Optional[Cats] = None

    def add(self, mode: str, elapsed: float, cats: Cats, peak: Optional[float], work: bool = True, **extra: Any) -> Dict[str, Any]:
        """A row for `mode`, which took `elapsed` seconds and gave `cats`; `peak` is the matmul
        peak (GFLOP/s) around it, `work=False` for a run that did no model work (cache hits)."""
        row: Dict[str, Any] = {"mode": mode, "pps": self.n_pairs / elapsed, "rss": peak_rss_mb(), **extra}
        if work:
            row["gflops"] = self.flops / elapsed / 1e9
            row["peak"] = peak
            row["peak_share"] = row["gflops"] / peak if peak else None
        for key in ("a", "b"):
            if key in self.baselines:
                row[f"x_{key}"] = self.baselines[key] / elapsed
        if self.reference is not None:
            row.update(compare(cats, self.reference))
        self.rows.append(row)
        print(f"  {mode}: {row['pps']:.2f} pairs/s ({elapsed:.1f} s)", flush=True)
        return row


def fmt(value: Optional[float], spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: List[Dict[str, Any]], title: str) -> str:
    lines = [f"### {title}", "", COLUMNS, "|" + "---|" * 13]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {fmt(r.get('pps'), '.2f')} | {fmt(r.get('x_a'), '.2f')} | {fmt(r.get('x_b'), '.2f')} "
            f"| {fmt(r.get('gflops'), '.0f')} | {fmt(r.get('peak'), '.0f')} | {fmt(r.get('peak_share'), '.0%')} "
            f"| {fmt(r.get('rss'), '.0f')} | {fmt(r.get('agree'), '.1%')} | {r.get('decisive', '-')} "
            f"| {fmt(r.get('max_diff'), '.2e')} | {fmt(r.get('mean_diff'), '.2e')} | {fmt(r.get('rechecked'), '.1%')} |"
        )
    return "\n".join(lines)
