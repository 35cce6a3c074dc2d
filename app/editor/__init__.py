"""The PySide6 editor: canvas, palette, inspector, visualizers."""
