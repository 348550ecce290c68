"""The group's routines: scheduled posts, notices and 辟谣, the activity calendar, discussion hours.
See README.md in this folder. Nothing is imported here (the modules import heavy libraries lazily)."""
