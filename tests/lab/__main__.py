"""`python -m tests.lab up [--parts practice,dense] | down | status | demo --out DIR | table`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .lab import PARTS, Lab
from .proc import LabError
from .topology import markdown_table


def _parts(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = set(parts) - set(PARTS)
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"parts are a comma list of {', '.join(PARTS)}")
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build the namespaces and start every daemon")
    up.add_argument("--parts", type=_parts, default=PARTS, help="comma list of: practice,dense")
    sub.add_parser("down", help="stop every lab daemon and remove the namespaces")
    sub.add_parser("status", help="hosts, addresses, services and whether each accepts")
    table = sub.add_parser("table", help="print the lab table (Markdown) generated from the topology")
    table.add_argument("--write", action="store_true", help="refresh the table in tests/lab/README.md")
    demo = sub.add_parser("demo", help="lab up, gapscan scan over it, reports, lab down")
    demo.add_argument("--out", default="out/demo", help="report directory (default out/demo)")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            seconds = Lab().up(args.parts)
            print(f"lab up ({','.join(args.parts)}) in {seconds:.1f}s")
            return _print_status(Lab())
        if args.command == "down":
            from .fleet import teardown_network as fleet_teardown

            problems = Lab().down() + fleet_teardown()  # a crashed fleet test's namespaces too
            for p in problems:
                print(f"teardown: {p}", file=sys.stderr)
            print("lab down" if not problems else "lab down with problems")
            return 1 if problems else 0
        if args.command == "status":
            return _print_status(Lab())
        if args.command == "table":
            if args.write:
                write_readme_table()
                print(f"updated {README}")
            else:
                print(markdown_table(), end="")
            return 0
        from .demo import run_demo

        return run_demo(args.out)
    except LabError as exc:
        print(f"lab error: {exc}", file=sys.stderr)
        return 2


README = Path(__file__).with_name("README.md")
START, END = "<!-- lab-table:start", "<!-- lab-table:end -->"


def write_readme_table() -> None:
    """Replace the generated section of README.md with the current table."""
    text = README.read_text()
    head = text[: text.index("\n", text.index(START)) + 1]
    tail = text[text.index(END) :]
    README.write_text(head + "\n" + markdown_table() + "\n" + tail)


def _print_status(lab: Lab) -> int:
    statuses = lab.status()
    if not statuses:
        print("lab is not up")
        return 1
    print(f"{'host':<12} {'address':<14} {'port':>5}  {'service':<13} {'daemon':<8} state")
    for s in statuses:
        state = "accepting" if s.accepting else f"DOWN ({s.reason})"
        print(f"{s.host:<12} {s.address:<14} {s.port:>5}  {s.service:<13} {s.daemon:<8} {state}")
    bad = sum(not s.accepting for s in statuses)
    print(f"{len(statuses) - bad}/{len(statuses)} endpoints accepting")
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `... | head`: the lab is fine, only the reader left early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
