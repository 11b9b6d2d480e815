"""The napari side, and the only place that imports napari, Qt, magicgui or superqt.

MRC reader and writer, sample data, the demo launcher, the dock widget, its worker
thread, the heatmap layer and the toggle key. Thin by design: the run layer (``runs``)
interprets the user's choices and the core computes; these modules only turn widget
state into requests and outcomes into layers and notifications.
"""
