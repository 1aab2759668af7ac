"""``python -m kcf_client``: the ``kcf`` command."""

from __future__ import annotations

from ._cli import main

raise SystemExit(main())
