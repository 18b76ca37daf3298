import sys

from modcut.cli import main

sys.exit(main())
