"""Allow ``python -m ufs_control``."""

from ufs_control.cli import main

raise SystemExit(main())
