"""``python -m latentode.cli`` (what ``torchrun -m latentode.cli fit ...`` runs)."""

from latentode.cli import main

raise SystemExit(main())
