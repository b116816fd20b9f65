#!/usr/bin/env python3
"""Loads a tokenizer.json with Hugging Face `tokenizers` and prints, as one JSON object, its vocabulary
size and the ids and decoded text of each string of the JSON list read from stdin (no special tokens
added; special-token text is parsed, as Verity's default).

Usage: hf_encode.py TOKENIZER_JSON < strings.json   (exit 3 when `tokenizers` is missing: the test skips)
"""
import json
import sys

try:
    from tokenizers import Tokenizer
except ImportError:
    sys.exit(3)

tokenizer = Tokenizer.from_file(sys.argv[1])
cases = []
for text in json.load(sys.stdin):
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    cases.append({"ids": ids, "decoded": tokenizer.decode(ids, skip_special_tokens=False)})
print(json.dumps({"vocab_size": tokenizer.get_vocab_size(with_added_tokens=True), "cases": cases}))
