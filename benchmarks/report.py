"""Print bench.py's results as the Markdown tables of docs/performance.md.

python benchmarks/report.py benchmarks/results/bench.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    results = json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/results/bench.json").read_text())
    m = results["machine"]
    print(
        f"Machine: {m['cpu']}, {m['cores']} cores, AVX-512 BF16: {'yes' if m['avx512_bf16'] else 'no'}, "
        f"Python {m['python']}."
    )
    print(f"Command: `{results['command']}`\n")
    sizes = results["sizes"]
    print("### Build\n")
    print(
        row(
            "documents",
            "chunks",
            "texts embedded",
            "sendsearch s",
            "sendsearch chunks/s",
            "baseline s",
            "baseline chunks/s",
            "ratio",
            "peak RSS build (MB)",
        )
    )
    print(row(*["---"] * 9))
    for _size, e in sizes.items():
        b, base = e["build"], e["baseline"]
        print(
            row(
                f"{b['documents']:,}",
                f"{b['chunks']:,}",
                f"{b['embedded']:,}",
                f"{b['seconds']:.0f}",
                f"{b['chunks_per_s']:.1f}",
                f"{base['seconds']:.0f}",
                f"{base['chunks_per_s']:.1f}",
                f"**{e['throughput_ratio']:.2f}x**",
                f"{b['peak_rss_mb']:,.0f}",
            )
        )
    print(f"\nsendsearch backend: {b['backend']}, precision {b['precision']}.\n")
    print("### Queries (warm, k=10, 264 questions; milliseconds)\n")
    print(
        row(
            "documents",
            "vectors",
            "hybrid search only p50 / p95 / p99",
            "hybrid end to end p50 / p95 / p99",
            "baseline dense search only p50 / p95 / p99",
            "baseline dense end to end p50 / p95 / p99",
        )
    )
    print(row(*["---"] * 6))

    def pct(p: dict) -> str:
        return f"{p['p50_ms']:.1f} / {p['p95_ms']:.1f} / {p['p99_ms']:.1f}"

    for _size, e in sizes.items():
        s, base = e["serve"], e["baseline"]
        print(
            row(
                f"{e['build']['documents']:,}",
                s["vectors"],
                pct(s["query_search_only"]),
                pct(s["query_end_to_end"]),
                pct(base["query_search_only"]),
                pct(base["query_end_to_end"]),
            )
        )
    print("\n### Memory and disk\n")
    print(
        row(
            "documents",
            "chunks",
            "RSS with model loaded (MB)",
            "RSS serving (MB)",
            "serving MB per 1k chunks",
            "peak RSS serving (MB)",
            "disk (MB)",
            "disk MB per 1k chunks",
        )
    )
    print(row(*["---"] * 8))
    for _size, e in sizes.items():
        s = e["serve"]
        print(
            row(
                f"{e['build']['documents']:,}",
                f"{s['chunks']:,}",
                f"{s['rss_model_mb']:.0f}",
                f"{s['rss_serving_mb']:.0f}",
                f"{s['serving_mb_per_1k_chunks']:.2f}",
                f"{s['peak_rss_mb']:.0f}",
                f"{s['disk_mb']:.0f}",
                f"{s['disk_mb_per_1k_chunks']:.2f}",
            )
        )
    for _size, e in sizes.items():
        if "update" in e:
            print(f"\n### Updates to the {e['build']['documents']:,}-document index\n")
            print(row("operation", "seconds", "added", "replaced", "removed", "texts embedded", "documents after"))
            print(row(*["---"] * 7))
            for name, u in e["update"].items():
                if isinstance(u, dict):
                    print(
                        row(
                            name.replace("_", " "),
                            f"{u['seconds']:.1f}",
                            u["added"],
                            u["replaced"],
                            u["removed"],
                            u["embedded"],
                            f"{u['documents']:,}",
                        )
                    )


if __name__ == "__main__":
    main()
