"""Bytes in and out: the benchmark data sets (``datasets``), images users hand to a model (``inputs``), the
``.mnet`` model-file container (``model_files``), atomic writes (``atomic``) and file-format helpers
(``formats``). Nothing here knows an estimator; :mod:`memorynet.models` gives the bytes their meaning.
"""
