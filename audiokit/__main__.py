import sys

from audiokit.cli import main

sys.exit(main())
