"""rnnsim's terminal app (Textual). Depends on rnnsim; rnnsim never imports this package.

Start it with `rnnsim tui` or `python -m tui.app`; the entry point is `tui.app.run(...)`.
"""
