import sys

from workshop.synthetic.cli import main

sys.exit(main())
