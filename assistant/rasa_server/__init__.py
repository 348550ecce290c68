"""Input channels loaded by the Rasa server (Python 3.10, the Rasa environment), named in
credentials.yml. ``guard`` is pure (the project's moderation and text code); ``webchat`` is the
Rasa glue."""
