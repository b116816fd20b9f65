#!/usr/bin/env python3
"""TRL's GRPOTrainer on CPU PyTorch, the side-by-side peer of `verity bench train`.

Same shapes as `verity bench train`: a randomly initialised Qwen2.5-0.5B-shaped model, 8 prompts of exactly 64
tokens (the real Qwen2.5 tokenizer from Tests/Fixtures/qwen2.5-tokenizer), 8 samples each forced to 256 new
tokens (min_new_tokens = max_completion_length), a constant reward, KL to a reference (beta 0.001) as the
paper's loss, 2 threads, one optimizer step. Prints one JSON object: the step's wall time, the time inside
generation (measured around the model's generate), the rest, and the peak RSS.

    pip install torch transformers trl        # never needed by Verity's tests
    python3 Scripts/bench/grpo_trl.py [--layers 24] [--threads 2] [--repeat-prompt R] [--lengths-file F.json]
                                      [--micro-batch M]

With --lengths-file (a JSON list, one length per row in (prompt, sample) order, as `verity bench train --lengths`
writes it) each response is forced to its own length by a logits processor: EOS barred before, forced at the
length.
"""
import argparse
import json
import os
import resource
import sys
import tempfile
import time

parser = argparse.ArgumentParser()
parser.add_argument("--shape", choices=["qwen2.5-0.5b", "qwen2.5-math-1.5b"], default="qwen2.5-0.5b",
                    help="the model shape (random weights): Qwen2.5-0.5B, or Qwen2.5-Math-1.5B (the paper's model)")
parser.add_argument("--layers", type=int, default=None, help="decoder layers (default: the shape's)")
parser.add_argument("--lora-rank", type=int, default=0,
                    help="train LoRA adapters of this rank through peft (alpha = 2 x rank, all seven projections, "
                         "dropout 0), the base being the reference; 0: full fine-tuning")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--prompts", type=int, default=8)
parser.add_argument("--samples", type=int, default=8)
parser.add_argument("--prompt-tokens", type=int, default=64)
parser.add_argument("--new-tokens", type=int, default=256)
parser.add_argument("--tokenizer", default="Tests/Fixtures/qwen2.5-tokenizer")
parser.add_argument("--repeat-prompt", type=int, default=1)
parser.add_argument("--lengths-file", default=None)
parser.add_argument("--micro-batch", type=int, default=0,
                    help="sequences per forward of the update (0: the whole batch in one); the optimizer step still "
                         "takes the whole batch, by gradient accumulation, as Verity's mini-batch does")
args = parser.parse_args()
# Forced response lengths, one per generated row in (prompt, sample) order (`verity bench train --lengths` hands the
# list it drew); without them every response is --new-tokens long.
lengths = None
if args.lengths_file:
    with open(args.lengths_file) as f:
        lengths = [int(x) for x in json.load(f)]
    rows = args.prompts * args.repeat_prompt * args.samples
    if len(lengths) != rows:
        print(json.dumps({"error": f"--lengths-file has {len(lengths)} lengths for {rows} rows"}))
        sys.exit(2)
max_new = max(lengths) if lengths else args.new_tokens

os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402
import trl  # noqa: E402
import transformers  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(1)
tok = AutoTokenizer.from_pretrained(args.tokenizer)
tok.padding_side = "left"
if tok.pad_token is None:
    tok.pad_token = "<|endoftext|>"
if args.shape == "qwen2.5-math-1.5b":   # Tests/Fixtures/configs/qwen2.5-math-1.5b/config.json
    config = Qwen2Config(vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                         num_hidden_layers=args.layers or 28, num_attention_heads=12, num_key_value_heads=2,
                         rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True, max_position_embeddings=4096)
else:
    config = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                         num_hidden_layers=args.layers or 24, num_attention_heads=14, num_key_value_heads=2,
                         rms_norm_eps=1e-6, rope_theta=1e6, tie_word_embeddings=True, max_position_embeddings=32768)
model_dir = tempfile.mkdtemp(prefix="grpo-trl-model-")
Qwen2ForCausalLM(config).float().save_pretrained(model_dir)   # TRL builds its reference model from the policy's path
tok.save_pretrained(model_dir)
model = Qwen2ForCausalLM.from_pretrained(model_dir, dtype=torch.float32)

prompts = []
for p in range(args.prompts):
    text = f"Problem{p}:"
    while len(tok(text)["input_ids"]) < args.prompt_tokens:
        text += " x"
    assert len(tok(text)["input_ids"]) == args.prompt_tokens
    prompts.append(text)
prompts = [p for p in prompts for _ in range(args.repeat_prompt)]   # the 1-shot shape: one prompt in several rows
dataset = Dataset.from_dict({"prompt": prompts})

def peak_rss_mb():
    """VmHWM of this process (ru_maxrss would include the parent's peak when started by `verity bench train`, since
    Linux keeps it across exec)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


generate_seconds = [0.0]
original_generate = model.generate


class ForcedLengths(transformers.LogitsProcessor):
    """Row i ends with EOS as its lengths[i]-th token (TRL counts the EOS in the completion, Verity's forced rows have
    no EOS: the same number of completion tokens either way); before that EOS is barred."""

    def __init__(self, lengths, prompt_tokens, eos):
        self.lengths, self.prompt_tokens, self.eos = lengths, prompt_tokens, eos

    def __call__(self, input_ids, scores):
        made = input_ids.shape[1] - self.prompt_tokens
        for i in range(scores.shape[0]):
            target = self.lengths[i % len(self.lengths)]
            if made < target - 1:
                scores[i, self.eos] = -float("inf")
            else:
                keep = scores[i, self.eos].clone()
                scores[i, :] = -float("inf")
                scores[i, self.eos] = keep if torch.isfinite(keep) else 0.0
        return scores


def timed_generate(*a, **k):
    if lengths:
        k["logits_processor"] = transformers.LogitsProcessorList(
            list(k.get("logits_processor") or []) + [ForcedLengths(lengths, args.prompt_tokens, tok.eos_token_id)])
        k["min_new_tokens"] = 0
    t0 = time.perf_counter()
    out = original_generate(*a, **k)
    generate_seconds[0] += time.perf_counter() - t0
    return out


model.generate = timed_generate

out_dir = tempfile.mkdtemp(prefix="grpo-trl-")
rows = args.prompts * args.repeat_prompt
batch = rows * args.samples
micro = args.micro_batch if args.micro_batch > 0 else batch
if batch % micro:
    print(json.dumps({"error": f"--micro-batch {micro} does not divide the batch of {batch}"}))
    sys.exit(2)
cfg = GRPOConfig(output_dir=out_dir, per_device_train_batch_size=micro, gradient_accumulation_steps=batch // micro,
                 generation_batch_size=batch, num_generations=args.samples,
                 max_completion_length=max_new,
                 generation_kwargs={"min_new_tokens": 0 if lengths else args.new_tokens},
                 beta=0.001, learning_rate=1e-6, max_steps=1, logging_steps=1, report_to=[], use_cpu=True, bf16=False,
                 save_strategy="no", temperature=1.0, num_train_epochs=1, dataloader_num_workers=0)
peft_config = None
if args.lora_rank > 0:
    from peft import LoraConfig  # noqa: E402
    peft_config = LoraConfig(r=args.lora_rank, lora_alpha=2 * args.lora_rank, lora_dropout=0.0, bias="none",
                             task_type="CAUSAL_LM",
                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"])
trainer = GRPOTrainer(model=model, reward_funcs=[lambda completions, **kw: [0.0] * len(completions)], args=cfg,
                      train_dataset=dataset, processing_class=tok, peft_config=peft_config)
t0 = time.perf_counter()
trainer.train()
total = time.perf_counter() - t0
logged = {k: v for h in trainer.state.log_history for k, v in h.items() if k.startswith("completions/")}
print(json.dumps({
    "completion_lengths": {k.split("/", 1)[1]: v for k, v in logged.items() if "length" in k},
    "peer": "trl", "trl_version": trl.__version__, "transformers_version": transformers.__version__,
    "torch_version": torch.__version__, "threads": args.threads, "prompts": args.prompts, "samples": args.samples,
    "prompt_tokens": args.prompt_tokens, "new_tokens": args.new_tokens, "layers": config.num_hidden_layers,
    "shape": args.shape, "lora_rank": args.lora_rank,
    "repeat_prompt": args.repeat_prompt, "response_lengths": lengths or [], "micro_batch": micro,
    "optimizer_steps": trainer.state.global_step,
    "seconds_total": total, "seconds_generate": generate_seconds[0], "seconds_rest": total - generate_seconds[0],
    "peak_rss_mb": peak_rss_mb(),
}))
sys.stdout.flush()
