"""Text in, text out: normalisation (full/half width, 繁→简, emoji, clipping), the estate's jieba
tokenizer, and YAML files read with line numbers for error messages. No other part of the project
is imported here."""
