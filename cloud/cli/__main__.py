"""``python -m cloud.cli``: the same as the ``scenic-cloud`` command."""

from cloud.cli import main

main()
