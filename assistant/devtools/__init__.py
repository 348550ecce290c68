"""Developer tools: the evaluation on case files (``evaluate``) and benchmarks that print figures
(``bench``)."""
