"""Runtime: the only place the running app is assembled from settings (``app``), the Rasa and action
server processes (``services``) and setup (model conversion, index, Rasa training: ``setup``).
Every command, the action server and the tests build the assistant through here."""
