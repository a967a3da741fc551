"""The experiment harness on top of the library: timed runs and declarative grids (``grids``, ``evaluation``),
the paper's claims, the accuracy frontier, class-incremental learning, the peers of the field, and the figures
(``plots``, the only module that needs matplotlib; nothing below this wing imports it).
"""
