"""``python -m seedance_nb.emulator``: run the emulator in the foreground."""

import sys

from . import main

sys.exit(main())
