"""``python -m harness.cli`` = ``se-conformance``."""

import sys

from harness.cli import main

sys.exit(main())
