"""The guardian process's entry point: ``python -m ufs_control.guardian_main`` (the runner starts it)."""

import sys

from ufs_control.app import guardian_main

if __name__ == "__main__":
    sys.exit(guardian_main(sys.argv[1:]))
