#!/usr/bin/env python3
"""Writes Tests/Fixtures/qwen2.5-tokenizer/extra_reference.json: Hugging Face `tokenizers` outputs
for cases the shipped reference.json does not cover, on the genuine Qwen2.5 vocabulary:
  * the split patterns of other checkpoints: Llama-3 (`\\p{N}{1,3}`), GPT-2 (ByteLevel use_regex),
    and Qwen2 with `ignore_merges` (each a variant of tokenizer.json's normalizer/pre_tokenizer/model);
  * special tokens left as plain text (`encode_special_tokens = True`);
  * the pieces each split pattern cuts every text into (`pre_tokenize_str`);
  * tricky Unicode (long s, NBSP, U+0085, U+2028, combining marks, Hangul jamo, astral letters and
    digits) and long pieces (the heap merge path);
  * decoding of byte tokens that form invalid or truncated UTF-8;
  * a small synthetic byte-level BPE (`digits_tokenizer`: the 256 byte tokens plus merges that build
    multi-digit and word tokens) with the Llama-3 pattern, since the Qwen vocabulary has no
    multi-digit tokens and so cannot tell `\\p{N}` from `\\p{N}{1,3}`.
Run from the repository root with `pip install tokenizers` (fixture made with tokenizers 0.23.3):
    python3 Scripts/bench/tokenizer_hf_reference.py
"""
import copy
import json
import random

import tokenizers

ROOT = "Tests/Fixtures/qwen2.5-tokenizer"
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

PIECES = ["'s", "'S", "'ll", "'LL", "'Re", "'ve", "'m", "'d", "'t", "'\u017f", "'x", "' ", "'", " ", "  ", "\t", "\n",
          "\r\n", "\r", "\u00a0", "\u2009", "\u3000", "\u0085", "\u2028", "\u200b", "\ufeff", "a", "Z", "\u00e9",
          "e\u0301", "A\u030a", "\u1100\u1161", "\ud55c", "\u4e2d", "\u306e", "\u00df", "\u01c5", "\u02b0", "\u216b",
          "\u00bd", "\u00b2", "\u0663", "\U0001d7d8", "0", "12", "123456", "x\u00b2", "$", "\\", "{", "}", "^", "_",
          "(", ")", ".", ",", "!", "?", "-", "+", "=", "\U0001f600", "\U0001f44d\U0001f3fd",
          "\U0001f468\u200d\U0001f469", "\U00010400", "\U00020000", "\ufffd", "<|im_start|>", "<|im_end|>",
          "<|endoftext|>", "<tool_call>", "<|im_", "<", "|>", "hello", "World", "frac", "\u0300", "\u0345",
          "\ufb01", "\u03a9", "K", "\u212a", "\u017f"]


def main():
    spec = json.load(open(f"{ROOT}/tokenizer.json", encoding="utf-8"))
    variants = {}
    base = {"normalizer": spec["normalizer"], "pre_tokenizer": spec["pre_tokenizer"], "ignore_merges": False}
    variants["qwen2"] = base
    v = copy.deepcopy(base)
    v["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = LLAMA3
    variants["llama3"] = v
    variants["gpt2"] = {"normalizer": None, "ignore_merges": False,
                        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}}
    v = copy.deepcopy(base)
    v["ignore_merges"] = True
    variants["qwen2_ignore_merges"] = v

    rng = random.Random(20261128)
    texts = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 24))) for _ in range(72)]
    texts += ["a" * 300, "ab" * 70 + " " + "=" * 90, "1" * 40 + " 1234567", " " * 120 + "x", "\n" * 10 + " \n" * 5 + "  ",
              "DON'T 'S 'll I'M we'Ve", "HE'SOK 'LLAMA 'REd 'VEx 'Mom 'DAD 'Tea we'rE'ſx 'ſ 'ſſ x'Sy'ſz", "\u0661\u0662\u0663\u0664 \U0001d7d9\U0001d7da\U0001d7db\U0001d7dc"]

    # Contractions where case-insensitive matching (including U+017F long s, which folds to s)
    # changes the ids: chosen by comparing against case-sensitive and fold-free versions of the regex.
    qwen_regex = base["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    contraction = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
    probes = {}
    for alt in ("'s|'t|'re|'ve|'m|'ll|'d", "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]"):
        p = copy.deepcopy(spec)
        p["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = qwen_regex.replace(contraction, alt)
        probes[alt] = tokenizers.Tokenizer.from_str(json.dumps(p))
    plain_qwen = tokenizers.Tokenizer.from_str(json.dumps(spec))
    chosen = []
    for pre in ("x", "DON", "it"):
        for c in ("S", "s", "T", "RE", "Re", "rE", "VE", "M", "LL", "Ll", "D", "\u017f"):
            for w in ("ound", "ay", "ome", "ell", "oon", "eason", "ilk", "ust", "ew"):
                t = f"{pre}'{c}{w}"
                want = plain_qwen.encode(t, add_special_tokens=False).ids
                if sum(x.startswith(pre) and x[len(pre) + 1:].startswith(c) for x in chosen) >= 2:
                    continue
                if any(pr.encode(t, add_special_tokens=False).ids != want for pr in probes.values()):
                    chosen.append(t)
    texts += chosen + ["x'\u017found 'S'SS'\u017f\u017f", "x'REason'VEry'LLama'Dad'Mom'Tom"]

    # The pieces each split pattern produces (pre_tokenize_str: no normalization, byte-level form).
    splits = {}
    for name in ("qwen2", "llama3", "gpt2"):
        pre = tokenizers.Tokenizer.from_str(json.dumps(dict(spec, pre_tokenizer=variants[name]["pre_tokenizer"]))).pre_tokenizer
        splits[name] = [[piece for piece, _ in pre.pre_tokenize_str(t)] for t in texts]

    encode = {}
    for name, v in variants.items():
        s = copy.deepcopy(spec)
        s["normalizer"] = v["normalizer"]
        s["pre_tokenizer"] = v["pre_tokenizer"]
        s["model"]["ignore_merges"] = v["ignore_merges"]
        tok = tokenizers.Tokenizer.from_str(json.dumps(s))
        out = {}
        for mode, flag in (("parse", False), ("plain", True)):
            tok.encode_special_tokens = flag
            out[mode] = [tok.encode(t, add_special_tokens=False).ids for t in texts]
        encode[name] = out

    tok = tokenizers.Tokenizer.from_file(f"{ROOT}/tokenizer.json")
    byte_chars = {}
    n = 0
    for b in range(256):
        if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF:
            byte_chars[b] = chr(b)
        else:
            byte_chars[b] = chr(256 + n)
            n += 1
    bid = {b: tok.token_to_id(c) for b, c in byte_chars.items()}
    hello = tok.encode("Hello", add_special_tokens=False).ids
    im_end = tok.token_to_id("<|im_end|>")
    raw = [[0xE4], [0xE4, 0xBD], [0xE4, 0xBD, 0xA0], [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
           [0x80], [0xF0, 0x9F, 0x98], [0xE0, 0x80], [0xC3], [0xF0, 0x9F, 0x98, 0x80]]
    decode = []
    for r in raw:
        for ids in ([bid[b] for b in r], hello + [bid[b] for b in r] + hello, [bid[b] for b in r] + [im_end] + [bid[b] for b in r]):
            decode.append({"ids": ids, "text": tok.decode(ids, skip_special_tokens=False),
                           "text_skip_special": tok.decode(ids, skip_special_tokens=True)})

    # Synthetic tokenizer whose merges make multi-digit tokens, with the Llama-3 pattern.
    vocab = {c: i for i, c in enumerate(byte_chars[b] for b in range(256))}
    merge_list = []
    def add_merge(a, b):
        merge_list.append(f"{a} {b}")
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    for a in "0123456789":
        for b in "0123456789":
            add_merge(a, b)
    for a in "0123456789":
        for b in "0123456789":
            for c in "0123456789":
                if (int(a) + int(b) + int(c)) % 3 == 0:
                    add_merge(a + b, c)
    for a in "0123456789":
        add_merge("\u0120", a)
    for a, b in (("t", "h"), ("th", "e"), ("\u0120", "the"), ("e", "r"), ("\u0120", "x")):
        add_merge(a, b)
    digits = copy.deepcopy(spec)
    digits["added_tokens"] = [{"id": len(vocab), "content": "<|end|>", "single_word": False, "lstrip": False,
                               "rstrip": False, "normalized": False, "special": True}]
    digits["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = LLAMA3
    digits["model"]["vocab"] = vocab
    digits["model"]["merges"] = merge_list
    dtok = tokenizers.Tokenizer.from_str(json.dumps(digits))
    digit_texts = ["1", "12", "123", "1234", "12345", "123456789", "x 1234567 the 99", "2024-11-28", "3.14159265358979",
                   "1,000,000 and 2^{10} = 1024", "\u0663\u0664\u0665\u0666 \u00bd\u00b2\u00b3", "a1b22c333d4444",
                   " 12 345  6789<|end|>0123", "0.1 + 0.2 = 0.30000000000000004", "\U0001d7d9\U0001d7da\U0001d7db\U0001d7dc"]
    digits_cases = [{"text": t, "ids": dtok.encode(t, add_special_tokens=False).ids} for t in digit_texts]

    doc = {"generator": "Scripts/bench/tokenizer_hf_reference.py", "tokenizers_version": tokenizers.__version__,
           "variants": variants, "texts": texts, "encode": encode, "decode": decode,
           "splits": splits, "digits_tokenizer": digits, "digits_cases": digits_cases}
    with open(f"{ROOT}/extra_reference.json", "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
