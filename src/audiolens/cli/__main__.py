"""``python -m audiolens.cli``."""

import sys

from audiolens.cli.main import main

sys.exit(main())
