"""``python -m memorynet``: the same as the ``memorynet`` command."""

import sys

from .apps.cli import main

sys.exit(main())
