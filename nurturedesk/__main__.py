import sys

from nurturedesk.cli import main

sys.exit(main())
