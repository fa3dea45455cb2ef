"""What the registry knows, apart from how it is stored or reached: its pure core.

A would-be version (:mod:`.candidate`) arrives through one of three doors (:mod:`.doors`),
is accepted or refused by the checks on its ONNX bytes (:mod:`.validation`,
:mod:`.signature`, :mod:`.refusal`); lifecycle events then give each version a status and
say which version served when (:mod:`.lifecycle_rules`). Nothing here touches a
database, a broker or the network.
"""
