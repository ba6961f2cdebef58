"""Peak GPU memory and model FLOPs of the jobs, from model sizes alone (inference.dims.ModelDims): what a GPU run
should show, printed by scripts/gpu_smoke.sh beside what it measures. Pure arithmetic, in bytes and FLOPs.

Memory of one rank of a LoRA run under DeepSpeed ZeRO-2, bf16, gradient checkpointing per block (`zero2_lora_memory`):
  frozen base             2 B x every base parameter: bf16, not partitioned by ZeRO-2
  LoRA model states       DeepSpeed's own estimator (estimate_zero2_model_states_mem_needs, no offload):
                          2 P (bf16 weights) + 18 P / n_gpus (bf16 + fp32 grads, fp32 master, Adam m and v)
  ZeRO-2 gradient buckets reduce_bucket_size elements in bf16, twice with overlap_comm: DeepSpeed allocates them
                          whatever P is (2 x 5e8 x 2 B = 1.86 GiB with configs/deepspeed/zero2.json)
  checkpointed inputs     n_layers x s x d x 2 B: each block's input, kept for its recomputation
  one recomputed block    what one block's recomputed forward saves for its backward, s tokens (bf16 = 2 B,
                          RMSNorm's fp32 copy = 4 B; counted from inference/modeling_*.py):
                            2 RMSNorms: fp32 input + bf16 output                          2 x 6 s d
                            q, k, v after RoPE (GQA repeated) and the attention output      4 x 2 s d
                            attention output re-laid for the out projection                 2 s d
                            SwiGLU: gate, silu(gate), up, their product                     4 x 2 s h
                          + its backward's gradients of the three s x h tensors             3 x 2 s h
                          + with LoRA dropout: each of the 7 adapted linears keeps its dropped input (2 B) and
                            mask (1 B): 6 x 3 s d (q, k, v, out, gate, up) + 3 s h (down)
                          = s (22 d + 14 h), + s (18 d + 3 h) with dropout
  LM head and loss        final RMSNorm 6 s d, then on the N rows the head runs on (SFT: the masked tokens; the
                          peak is at full masking, N = s): bf16 logits 2 N V, the loss's saved fp32 log-softmax
                          4 N V, in its backward the fp32 gradient in and out 2 x 4 N V: 14 N V at the peak
  CUDA context            ~1 GiB: context, kernels and the NCCL communicator (allocator fragmentation not counted)
The earlier estimate (scripts/bench/sft_step.py) had neither the buckets nor the LoRA-dropout inputs, counted a
recomputed block as s (4 d + 3 h) x 2 B, and the loss at mean noise (N = s / 2) without its backward.

FLOPs (model FLOPs, the MFU convention: gradient checkpointing's recomputation is not counted), per token of a
sequence of s tokens, N = ModelDims.n_matmul (every parameter in a matmul, LM head included), P = trainable:
  forward 2 N + attention 4 n_layers s d (QK^T and AV over the whole bidirectional canvas)
  training: forward and backward input gradients through every matmul (4 x (N + A), A = the LoRA matrices
  added to the model, 0 for a full fine-tune) + weight gradients of the trainable ones (2 P) + attention backward
  (8 n_layers s d). LoRA (A = P): 4 N + 6 P + 12 n_layers s d; full fine-tune (P = N): the usual
  6 N + 12 n_layers s d. SFT runs the LM head on the masked rows only: its 4 V d per token are scaled by the masked
  fraction.
MFU = model FLOPs / seconds / the device's dense bf16 peak (`peak_bf16_flops`, from the device name).
"""

from __future__ import annotations

GiB = 1024**3
CUDA_CONTEXT_BYTES = GiB
# Dense (no sparsity) bf16 tensor-core peak FLOP/s by device-name fragment, first match wins (H100 SXM: 989 TFLOPS).
PEAK_BF16 = [("H200", 989e12), ("GH200", 989e12), ("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H100", 989e12),
             ("H800", 989e12), ("B200", 2250e12), ("A100", 312e12), ("A800", 312e12), ("L40S", 362e12),
             ("L40", 181e12), ("A10G", 70e12), ("A10", 125e12), ("L4", 121e12), ("RTX 4090", 165e12),
             ("RTX 6000 Ada", 364e12), ("RTX A6000", 155e12)]


def zero2_lora_memory(dims, trainable: int, seq: int, n_gpus: int = 1, micro_batch: int = 1,
                      head_rows: int | None = None, lora_dropout: bool = True, bucket_elems: float = 5e8,
                      overlap_comm: bool = True) -> dict[str, float]:
    """Bytes per GPU, term by term (module docstring). head_rows: rows the LM head runs on (default: every token)."""
    s, d, h = micro_batch * seq, dims.d_model, dims.ffn_hidden
    rows = s if head_rows is None else head_rows
    block = s * (22 * d + 14 * h) + (s * (18 * d + 3 * h) if lora_dropout else 0)
    return {
        "frozen base (bf16)": 2 * (dims.n_params),
        "LoRA weights + grads + fp32 master + Adam": 2 * trainable + 18 * trainable / n_gpus,
        "ZeRO-2 gradient buckets": bucket_elems * 2 * (2 if overlap_comm else 1),
        "checkpointed block inputs": dims.n_layers * s * d * 2,
        "one recomputed block (fwd + bwd)": block,
        "LM head + loss (fwd + bwd)": 6 * s * d + 14 * rows * dims.vocab,
        "CUDA context + NCCL": CUDA_CONTEXT_BYTES,
    }


def inference_memory(dims, batch: int, length: int, logit_rows: int | None = None) -> dict[str, float]:
    """Bytes of a no-grad forward (sampling): bf16 weights, one block's transient SwiGLU tensors (3 x 2 B x s h),
    the bf16 logits of `logit_rows` rows (default all) and the sampler's fp32 softmax and confidences (2 x 4 B)."""
    s = batch * length
    rows = s if logit_rows is None else logit_rows
    return {
        "weights (bf16)": 2 * dims.n_params,
        "one block's transient activations": 3 * 2 * s * dims.ffn_hidden + 4 * 2 * s * dims.d_model,
        "logits + fp32 softmax": rows * dims.vocab * (2 + 8),
        "CUDA context": CUDA_CONTEXT_BYTES,
    }


def forward_flops_per_token(dims, seq: int) -> float:
    return 2 * dims.n_matmul + 4 * dims.n_layers * seq * dims.d_model


def train_flops_per_token(dims, trainable: int, seq: int, lora: bool = True, head_fraction: float = 1.0) -> float:
    """Training FLOPs per token: a LoRA with `trainable` parameters, or (lora=False) a full fine-tune of
    `trainable` of the model's own; the LM head's share scaled by head_fraction (module docstring)."""
    head = dims.vocab * dims.d_model
    body = dims.n_matmul - head + (trainable if lora else 0)
    return 4 * body + 4 * head * head_fraction + 2 * trainable + 12 * dims.n_layers * seq * dims.d_model


def peak_bf16_flops(device_name: str) -> float | None:
    """Dense bf16 peak FLOP/s of a GPU by its torch.cuda.get_device_name(), None when not in the table."""
    return next((peak for fragment, peak in PEAK_BF16 if fragment in device_name), None)


def mfu(flops: float, seconds: float, peak: float | None) -> float | None:
    return flops / seconds / peak if peak and seconds > 0 else None
