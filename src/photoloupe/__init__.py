"""photoloupe: offline image verification workbench."""

__version__ = "0.1.0"
