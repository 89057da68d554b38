"""`python -m hanoi_cli` and the `hanoi` console script."""

from __future__ import annotations


def main() -> None:
    from hanoi_cli.cli import run

    run()


if __name__ == "__main__":
    main()
