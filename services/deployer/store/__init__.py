"""The deployer's desired state in Postgres, shared by every replica: all of its SQL.

``desired_state`` reads the rows as values, ``rows`` reads and writes single rows under
the route's row lock, ``approvals`` turns an approval into a serving (or failed) version
and ``transitions`` promotes, rolls back and stops versions, each emitting its event
through the unit of work it is given.
"""
