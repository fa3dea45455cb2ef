"""All of the trainer's SQL: the job table (:mod:`.jobs`, recording and leasing jobs) and
what is read from it (:mod:`.job_queries`). Nothing outside this package talks to the
database except through these functions."""
