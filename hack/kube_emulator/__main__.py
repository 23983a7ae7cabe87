"""`python3 -m kube_emulator` (from hack/): the same as hack/kube-emulator."""

import sys

from .main import main

sys.exit(main(sys.argv[1:]))
