"""Start the dVAE Hands desktop app. ``python main.py --help`` lists the options."""
import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
