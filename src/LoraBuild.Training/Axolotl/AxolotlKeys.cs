using LoraBuild.Diagnostics;

namespace LoraBuild.Training.Axolotl;

/// <summary>
/// The Axolotl config keys (src/axolotl/utils/schemas/) that a LoRA / QLoRA / DoRA run can carry and that are not one of
/// our own keys (those are mapped in <see cref="TrainingConfig.Keys"/>): each is either accepted with one printed note
/// saying why it changes nothing here, or refused with the reason where ignoring it would change the result. A key left
/// empty (or false, or an empty list) is unset, as in Axolotl, and says nothing. docs/axolotl-keys.md lists the same table.
/// </summary>
public static class AxolotlKeys
{
    /// <summary>What a key does here.</summary>
    public enum Kind
    {
        /// <summary>Accepted; when set, one note says why it changes nothing here.</summary>
        Note,
        /// <summary>Refused when set (not empty, not false): it would change the result and cannot be honoured here.</summary>
        RefuseWhenSet,
    }

    public sealed record Entry(string Name, Kind Kind, string Why);

    const string Logging = "a logging integration; progress goes to the build log, metrics.json and the loss curve here";
    const string Attention = "an attention or kernel choice; the result is the same math, which our attention and kernels already compute";
    const string Distributed = "a multi-device setting; a run here uses one device";
    const string Preparation = "a data-preparation cache or pipeline setting; tokenisation here is cached by content hash instead";
    const string Hub = "a Hub upload setting; LoraBuild packs adapters as NuGet packages and uploads nothing";
    const string Loading = "the architecture and tokenizer are read from the model folder's config.json and tokenizer files";

    public static readonly IReadOnlyList<Entry> Table = Build();

    static List<Entry> Build()
    {
        var list = new List<Entry>();
        void Notes(string why, params string[] names) => list.AddRange(names.Select(n => new Entry(n, Kind.Note, why)));
        void Refuse(string why, params string[] names) => list.AddRange(names.Select(n => new Entry(n, Kind.RefuseWhenSet, why)));

        Notes(Logging, "wandb_project", "wandb_entity", "wandb_watch", "wandb_name", "wandb_log_model", "wandb_run_id", "wandb_mode", "use_wandb",
            "mlflow_tracking_uri", "mlflow_experiment_name", "mlflow_run_name", "hf_mlflow_log_artifacts", "use_mlflow",
            "comet_api_key", "comet_workspace", "comet_project_name", "comet_experiment_key", "comet_mode", "comet_online", "comet_experiment_config", "use_comet",
            "use_tensorboard", "use_swanlab", "swanlab_project", "swanlab_mode", "swanlab_experiment_name", "swanlab_description", "swanlab_workspace",
            "swanlab_log_model", "swanlab_log_completions", "swanlab_completion_log_interval", "swanlab_completion_max_buffer",
            "trackio_project_name", "trackio_run_name", "trackio_space_id", "use_otel_metrics", "otel_metrics_host", "otel_metrics_port",
            "eval_table_size", "eval_causal_lm_metrics", "do_causal_lm_eval", "debug", "profiler_steps", "include_tokens_per_second");
        Notes(Attention, "attn_implementation", "flash_attention", "sdp_attention", "xformers_attention", "flex_attention", "eager_attention",
            "flash_attn_cross_entropy", "flash_attn_rms_norm", "flash_attn_fuse_qkv", "flash_attn_fuse_mlp", "flash_optimum", "fused_attn_kernel",
            "lora_mlp_kernel", "lora_qkv_kernel", "lora_o_kernel", "liger_rope", "liger_rms_norm", "liger_glu_activation", "liger_layer_norm",
            "liger_fused_linear_cross_entropy", "liger_rms_norm_gated", "liger_cross_entropy", "cut_cross_entropy", "use_kernels", "plugins",
            "torch_compile", "torch_compile_backend", "torch_compile_mode", "flex_attn_compile_kwargs", "unsloth_cross_entropy_loss",
            "unsloth_rms_norm", "unsloth_rope", "unsloth_lora_mlp", "unsloth_lora_qkv", "unsloth_lora_o");
        Notes("TF32 matmuls are a CUDA precision switch for float32 on Ampere+ GPUs; this worker keeps float32 matmuls in full precision", "tf32");
        Notes("checkpointing only trades memory for recomputation; its kwargs (use_reentrant) do not change the gradients", "gradient_checkpointing_kwargs",
            "activation_offloading");
        Notes(Distributed, "deepspeed", "fsdp", "fsdp_config", "fsdp_version", "ddp", "ddp_timeout", "ddp_bucket_cap_mb", "ddp_broadcast_buffers",
            "ddp_find_unused_parameters", "local_rank", "world_size", "device_map", "max_memory", "use_ray", "ray_num_workers", "ray_run_name",
            "dp_shard_size", "dp_replicate_size", "tensor_parallel_size", "context_parallel_size", "sequence_parallel_degree", "torchdistx_path",
            "low_cpu_mem_usage", "experimental_skip_move_to_device", "gpu_memory_limit", "lora_on_cpu");
        Notes(Preparation, "dataset_prepared_path", "push_dataset_to_hub", "dataset_processes", "dataset_num_proc", "dataset_keep_in_memory",
            "remove_unused_columns", "dataloader_num_workers", "dataloader_pin_memory", "dataloader_prefetch_factor", "is_preprocess", "preprocess_iterable");
        Notes("evaluation here scores each held-out example on its own (loss and exact match), packed or not", "eval_sample_packing", "eval_batch_size");
        Notes("padding positions carry no loss here, so padding every batch to sequence_len gives the same gradients", "pad_to_sequence_len");
        Notes("packing here fills each sequence in order with the next examples (the estimate and bin settings tune Axolotl's packer only)",
            "sample_packing_eff_est", "sample_packing_bin_size", "sample_packing_group_size", "sample_packing_sequentially", "multipack_real_batches", "max_packed_sequence_len");
        Notes(Hub, "hub_model_id", "hub_strategy", "hub_revision", "save_safetensors", "save_first_step", "save_only_model", "hf_use_auth_token");
        Notes(Loading, "model_type", "tokenizer_type", "tokenizer_use_fast", "tokenizer_legacy", "processor_type", "model_config_type", "is_llama_derived_model",
            "is_mistral_derived_model", "is_qwen_derived_model", "is_falcon_derived_model");
        Notes("no remote code ever runs here; the architecture must be one this worker implements (config.json's model_type)", "trust_remote_code");
        Notes("unknown keys are always errors here (LB0120), as with strict", "strict");
        Notes("the chat template writes end-of-turn tokens; the assistant turn's own end marker is learned with it", "eot_tokens", "train_on_eot");
        Notes("a LoRA run here trains only the adapter; the base weights stay frozen, so freezing patterns change nothing", "unfrozen_parameters", "freeze_mm_modules");
        Notes("the embedding matrix is never resized here (special_tokens that are not in the vocabulary are refused instead)", "resize_token_embeddings_to_32x", "mean_resizing_embeddings");
        Notes("the trainer itself stops a diverging run (LB0130: loss not finite or far above its start); the watchdog only aborts, it never changes trained weights",
            "loss_watchdog_threshold", "loss_watchdog_patience");
        Notes("continuing a run is lorabuild train --resume here (the newest checkpoint whose fingerprint matches)", "auto_resume_from_checkpoints");
        Notes("checkpoints and evaluation follow save_steps / saves_per_epoch and eval_steps / evals_per_epoch here", "save_strategy", "eval_strategy", "evaluation_strategy");
        Notes("data loading here does not depend on column pruning", "skip_prepare_dataset");
        Notes("the quantization settings of bitsandbytes' NF4 are the ones QLoRA uses here (blocksize 64, double quantization)", "bnb_config_kwargs");

        Refuse("training an adapter on top of an existing one (lora_model_dir) is not supported; start from the base model", "lora_model_dir");
        Refuse("resuming from a named checkpoint folder is not supported; lorabuild train --resume continues from the run's own newest matching checkpoint",
            "resume_from_checkpoint");
        Refuse("a config or tokenizer from another repository than base_model is not supported; the base model's own are used",
            "base_model_config", "tokenizer_config");
        Refuse("grouping examples by length changes the batches; batches here keep the (shuffled) dataset order", "group_by_length");
        Refuse("this learning-rate schedule variant is not implemented (constant, linear, cosine and constant_with_warmup are)",
            "cosine_min_lr_ratio", "cosine_constant_lr_ratio", "lr_quadratic_warmup", "lr_div_factor", "lr_scheduler_kwargs",
            "jagged_restart_steps", "jagged_restart_warmup_steps", "jagged_restart_anneal_steps", "relora", "relora_steps", "relora_prune_ratio", "relora_cpu_offload");
        Refuse("GPTQ base models are not supported; use an unquantized base (quantized to NF4 with load_in_4bit if wanted)",
            "gptq", "gptq_groupsize", "gptq_model_v1", "gptq_disable_exllama");
        Refuse("reinforcement learning (DPO, KTO, ORPO, GRPO ...) is not implemented; this worker trains supervised fine-tuning only",
            "rl", "rl_beta", "orpo_alpha", "kto_desirable_weight", "kto_undesirable_weight", "trl", "dpo_beta", "reward_model", "process_reward_model");
        Refuse("these PEFT variants are not implemented here (LoRA, rsLoRA and DoRA are)", "lora_fan_in_fan_out", "lora_target_parameters",
            "peft_layers_to_transform", "peft_layers_pattern", "peft_use_qalora", "peft", "loftq_config");
        Refuse("sharding the dataset changes which examples train; not supported here", "dataset_shard_num", "dataset_shard_idx");
        Refuse("a default system message changes every prompt and is not implemented; put the system message in the data", "default_system_message");
        Refuse("neftune noise changes the trained weights and is not implemented", "neftune_noise_alpha");
        Refuse("the Mistral-common tokenizer is not implemented; the model folder's tokenizer.json is used", "tokenizer_use_mistral_common");
        Refuse("a mixture-of-experts or quantization-aware training setting for models or methods not implemented here",
            "quantize_moe_experts", "qat", "model_quantization_config", "model_quantization_config_kwargs", "use_scattermoe", "use_sonicmoe", "experts_implementation");
        Refuse("dataset deduplication changes which examples train and is not implemented", "dataset_exact_deduplication");
        return list;
    }

    static readonly Dictionary<string, Entry> ByName = Table.ToDictionary(e => e.Name, StringComparer.Ordinal);

    public static Entry? Find(string name) => ByName.GetValueOrDefault(name);

    /// <summary>Whether a value counts as set: not empty, not false, not an empty list or mapping.</summary>
    public static bool IsSet(TrainingConfig.Value v) =>
        v.Scalar is { } s ? s.Length > 0 && s.ToLowerInvariant() is not ("false" or "no" or "0" or "null" or "~" or "none")
        : (v.List?.Count ?? 0) > 0 || (v.Map?.Count ?? 0) > 0 || (v.Entries?.Count ?? 0) > 0;

    /// <summary>The key as one of <see cref="TrainingConfig.Keys"/>: a note is recorded once, a refusal is a coded error.</summary>
    public static TrainingConfig.Key AsKey(Entry entry) => new(entry.Name, "Axolotl: " + entry.Why, _ => null, (c, v) =>
    {
        if (!IsSet(v)) return;
        if (entry.Kind == Kind.RefuseWhenSet)
            throw new LoraBuildException(ErrorCodes.AxolotlKeyRefused, $"'{entry.Name}' is not supported: {entry.Why}.", v.Source, v.Line, column: v.Column);
        c.AddNote(v, $"{entry.Name}: accepted, changes nothing here: {entry.Why}.");
    });
}
