"""The `kb` command line: `main.py` (the group and `kb index|search|serve|eval|calibrate`), `context.py`
(what every command shares) and one module per command family, each exporting its `COMMANDS`."""
