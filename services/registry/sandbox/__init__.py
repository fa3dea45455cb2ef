"""The sandbox: where the registry validates ONNX bytes and measures a model on
evaluation data, in a process of its own (:mod:`.worker`, started by :mod:`.runner`).

The process gets no database credentials or any ``MODELBUS_*`` setting (a clean
environment), an address-space limit (``RLIMIT_AS``) set before it imports ONNX Runtime,
a CPU-time limit, a cap on the files it may write, and a wall-clock deadline after which
its whole process group is killed. A model too big or too slow for these limits is
refused with the limit it broke; the registry lives on whatever the model does.
"""
