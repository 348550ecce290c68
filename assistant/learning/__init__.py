"""A knowledge base that learns: doubtful questions kept (redacted) and grouped for review, answers
written back to knowledge/ and picked up live, hit testing, feedback, FAQ import/export, metrics and
the quarterly report. See README.md."""
