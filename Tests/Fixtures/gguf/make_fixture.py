#!/usr/bin/env python3
"""Writes Tests/Fixtures/gguf/blocks.gguf and blocks.json with the `gguf` Python package (pip install gguf numpy).

blocks.gguf: GGUF v3 with metadata of every value type and one 2 x 256 tensor in each type Verity dequantises
(F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K). Quantised tensors hold random blocks (scales drawn as finite float16),
so every bit pattern of the quants occurs. blocks.json: for each tensor, its type, row-major shape and the values
`gguf.quants.dequantize` gives, as float32 bit patterns (exact), and its size in the file.
"""
import json, os
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
rows, cols = 2, 256
w = gguf.GGUFWriter(os.path.join(here, "blocks.gguf"), "llama")
w.add_uint8("test.u8", 200)
w.add_int8("test.i8", -5)
w.add_uint16("test.u16", 60000)
w.add_int16("test.i16", -30000)
w.add_uint32("test.u32", 4000000000)
w.add_int32("test.i32", -2000000000)
w.add_float32("test.f32", 0.5)
w.add_bool("test.bool", True)
w.add_string("test.string", "héllo")
w.add_array("test.array", [1, 2, 3])
w.add_array("test.strings", ["a", "bc"])
w.add_uint64("test.u64", 2**63 + 5)
w.add_int64("test.i64", -(2**62))
w.add_float64("test.f64", 1.25)

reference = {}
SCALES = {  # (offset, count) of the float16 scale fields in a block
    T.Q8_0: [(0, 1)], T.Q4_0: [(0, 1)], T.Q5_0: [(0, 1)], T.Q4_1: [(0, 2)], T.Q5_1: [(0, 2)],
    T.Q2_K: [(80, 2)], T.Q3_K: [(108, 1)], T.Q4_K: [(0, 2)], T.Q5_K: [(0, 2)], T.Q6_K: [(208, 1)],
}
for qt in [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]:
    name = f"t.{qt.name.lower()}"
    if qt == T.F32:
        raw = rng.standard_normal((rows, cols)).astype(np.float32)
        w.add_tensor(name, raw)
        values = raw
    elif qt == T.F16:
        raw = rng.standard_normal((rows, cols)).astype(np.float16)
        w.add_tensor(name, raw)
        values = raw.astype(np.float32)
    else:
        block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qt]
        nblocks = rows * cols // block_elems
        blocks = rng.integers(0, 256, size=(nblocks, block_bytes), dtype=np.uint8)
        for offset, count in SCALES.get(qt, []):
            # d (and m or dmin) as finite float16 scales.
            for b in range(nblocks):
                for k in range(count):
                    v = np.float16(rng.uniform(-0.1, 0.1) if k == 0 else rng.uniform(-1, 1))
                    blocks[b, offset + 2 * k:offset + 2 * k + 2] = np.frombuffer(v.tobytes(), dtype=np.uint8)
        raw = blocks.reshape(rows, -1)
        w.add_tensor(name, raw, raw_dtype=qt)
        values = gguf.quants.dequantize(raw, qt).astype(np.float32).reshape(rows, cols)
    reference[name] = {"type": qt.name, "shape": [rows, cols], "bytes": int(raw.nbytes),
                       "bits": [int(x) for x in values.reshape(-1).view(np.uint32)]}
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
json.dump(reference, open(os.path.join(here, "blocks.json"), "w"), indent=0)
print("wrote", os.path.join(here, "blocks.gguf"))
