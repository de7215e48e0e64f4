"""`python -m medalign ...`: the same command as the `medalign` script."""

from medalign.cli import main

if __name__ == "__main__":
    main()
