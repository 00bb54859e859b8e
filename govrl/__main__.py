"""`python -m govrl`: the command line."""

from govrl.cli import main

if __name__ == "__main__":
    main()
