#!/usr/bin/env python
"""Django's command-line utility for PrefStudio."""
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefstudio.settings")
    from django.core.management import execute_from_command_line

    from common.memory import unmap_large_blocks

    unmap_large_blocks()  # the data commands' freed arrays leave the process (common/memory.py)

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
