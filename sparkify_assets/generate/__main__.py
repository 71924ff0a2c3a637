"""`python -m sparkify_assets.generate --out DEST ...`: the generator's command line (--help)."""

from sparkify_assets.generate.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
