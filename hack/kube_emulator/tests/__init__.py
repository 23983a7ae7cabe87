"""Unit tests of kube_emulator's pure parts (no sockets, no processes).

  python3 -m unittest discover -s hack/kube_emulator/tests -t hack
"""
