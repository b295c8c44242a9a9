"""Jupyter widgets for edgelab: the interactive `Workbench` (ipywidgets 8 + plotly FigureWidget)."""
from .workbench import Workbench

__all__ = ["Workbench"]
