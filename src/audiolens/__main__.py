"""``python -m audiolens``."""

import sys

from audiolens.cli.main import main

sys.exit(main())
