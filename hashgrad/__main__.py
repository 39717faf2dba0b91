"""`python -m hashgrad` runs the `hashgrad` command."""

import sys

from hashgrad.cli.main import main

sys.exit(main())
