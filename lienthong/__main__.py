"""``python -m lienthong`` — the same as the ``lienthong`` console script."""

from lienthong.cli import main

main()
