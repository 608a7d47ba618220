"""Allow ``python -m tui`` as well as the ``flashtop`` console script."""

import sys

from tui.cli import main

sys.exit(main())
