import sys

from amp_local.cli import main

sys.exit(main())
