"""Dialogue: what the assistant says. ``engine`` turns an NLU result and the conversation's state into
a reply (answer, clarify, ticket, handoff); ``complaint`` is the complaint form's pure reasoning;
``replies`` holds the fixed texts. The engine needs the human side only through the small
Protocols in ``ports``; it never opens a database itself."""
