"""``manage.py`` for the Django-based systems; DJANGO_SETTINGS_MODULE picks one."""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
