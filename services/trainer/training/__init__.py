"""The training itself: plain, synchronous scikit-learn code that runs in a worker process.

Nothing here knows about Kafka, Postgres or HTTP. :func:`services.trainer.training.train.train`
takes a request and local files and returns the artifacts' bytes and a summary;
:mod:`services.trainer.training.process` is the process entry point around it.
"""
