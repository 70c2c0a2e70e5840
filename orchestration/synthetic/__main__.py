import sys

from orchestration.synthetic.cli import main

sys.exit(main())
