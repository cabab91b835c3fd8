"""`python -m tests.snapshots`: take the contract snapshots again."""

from tests.snapshots import main

main()
