"""``python -m pybpf`` runs the CLI."""

from .cli import main

raise SystemExit(main())
