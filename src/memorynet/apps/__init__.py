"""What people run: the ``memorynet`` command (``cli``), the web page (``serve``) and Dask training
(``distributed``); ``params`` reads the estimators' parameters for the command's help and the documentation.
"""
