"""The console: server-rendered pages over the five services' public HTTP APIs.

It has no database and no Kafka consumer. A person signs in with a modelbus token; the
console keeps it in a server-side session and forwards it on every call, so each service
decides, as it always does, what that person may read or do.
"""
